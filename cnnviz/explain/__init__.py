"""Explain a trained CNN: its filters, its feature maps and captum attributions, and the sanity
check that tells which attributions to trust. No streamlit here.

    models          the networks (default LeNet-5 on digits, ImageNet, a fine-tuned model)
    filters         first-layer filters as tiles, deeper filters per input channel
    feature_maps    a layer's activations (a forward hook, removed), top-k channels
    attribution     Saliency, Integrated Gradients, SmoothGrad, Grad-CAM, Occlusion, GBP
    sanity          cascading randomization (Adebayo et al. 2018), rank correlations
    feature_viz     feature visualization (Olah et al. 2017) beside the top reference images
    jobs            the page's job functions: a ModelSpec in (picklable), resolved once
    default_model   the script that trains assets/lenet5_digits.pt
"""
