"""Browser tests (Playwright + Debian Chromium); a package so its module names stay unique."""
