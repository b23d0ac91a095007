"""Skip Streamlit's "are we in a REPL?" check, which the first student's page would wait for.

What it fixes: the first element any session draws calls
`delta_generator._maybe_print_use_warning()`, which, once per process, asks `env_util.is_repl()`:
that walks `inspect.stack()`, reading the source of every frame and searching sys.modules (thousands
of modules once torch is in) for each, on the first page of the day (the README's performance
section has the time). The launcher runs `streamlit run` in this very process, so the answer is
known (no REPL, a runtime): the check is marked as already done.

Upstream source it relies on (streamlit 1.67): streamlit/delta_generator.py, the module
global `_use_warning_has_been_displayed` read and set by `_maybe_print_use_warning()`
(which does nothing once it is True). tests/test_server_direct_run_check.py checks both.
"""

from __future__ import annotations

CHECKED = {"streamlit": "1.67"}
FLAG = "_use_warning_has_been_displayed"


def install() -> bool:
    """Mark the check as done; False where delta_generator has no such flag any more."""
    from streamlit import delta_generator

    if not isinstance(getattr(delta_generator, FLAG, None), bool):
        return False
    setattr(delta_generator, FLAG, True)
    return True
