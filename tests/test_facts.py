"""The facts the pages quote, recomputed from the engine (the lecture's checked numbers)."""

from cnnviz import facts
from cnnviz.analysis import analyze
from cnnviz.ui.navigation import PAGES


def test_quoted_numbers_are_the_engines():
    assert analyze("lenet5_paper").trainable_params == facts.LENET5_PAPER_TRAINABLE
    assert analyze("lenet5").total_params == facts.LENET5_MODERN_PARAMS
    assert analyze("lenet5", c3_table=True).layer("c3").params == facts.LENET5_C3_TABLE_PARAMS
    assert analyze("lenet5").layer("c3").params == facts.LENET5_C3_FULL_PARAMS
    assert analyze("alexnet_lecture").total_params == facts.ALEXNET_LECTURE_PARAMS
    assert analyze("alexnet_paper").total_params == facts.ALEXNET_PAPER_PARAMS
    assert analyze("vgg16").total_params == facts.VGG16_PARAMS
    assert analyze("vgg16").activation_values == facts.VGG16_ACTIVATION_VALUES
    assert analyze("inception_naive").total_macs == facts.INCEPTION_NAIVE_MACS
    assert analyze("inception_bottleneck").total_macs == facts.INCEPTION_BOTTLENECK_MACS
    assert analyze("googlenet").total_params == facts.GOOGLENET_TORCHVISION_PARAMS
    assert analyze("alexnet").total_params == facts.ALEXNET_TORCHVISION_PARAMS
    assert analyze("vgg16_lecture").total_params == facts.VGG16_PARAMS
    fc = sum(x.params for x in analyze("vgg16_lecture").leaves if x.kind == "fc")
    assert fc == facts.VGG16_FC_PARAMS


def test_lenet5_connections_340908():
    # connections = outputs x (fan-in + bias) per layer, as the paper counts them
    a = analyze("lenet5_paper")
    total = 0
    for layer in a.leaves:
        if layer.kind in ("conv", "pool", "fc"):
            positions = layer.output_shape[1] * layer.output_shape[2] if layer.kind != "fc" else 1
            if layer.kind == "pool":  # 4 inputs + bias per output
                total += 5 * layer.activations
            elif layer.type == "RBFOutput":
                total += layer.macs
            else:
                total += layer.macs + positions * layer.output_shape[0]
    assert total == facts.LENET5_CONNECTIONS


def test_vgg_memory_erratum_is_61_mb_not_96():
    e = next(e for e in facts.errata("VGG"))
    assert "96MB" in e.slide_says and "61 MB" in e.computed


def test_358m_comes_from_counting_the_3x3_term_twice():
    bottleneck = analyze("inception_bottleneck")
    twice = bottleneck.total_macs + bottleneck.layer("branch3x3.conv.conv").macs
    assert round(twice / 1e6) == 358
    assert round(bottleneck.total_macs / 1e6) == 271


def test_ilsvrc_winners_and_links():
    years = [w.year for w in facts.ILSVRC_WINNERS]
    assert years == sorted(years)
    best = min(facts.ILSVRC_WINNERS, key=lambda w: w.top5_error)
    assert (best.name, best.top5_error) == ("SENet", 2.25)
    resnet = next(w for w in facts.ILSVRC_WINNERS if w.name == "ResNet")
    assert (resnet.top5_error, resnet.depth) == (3.57, 152)
    titles = {p.title for p in PAGES}
    assert all(w.page in titles for w in facts.ILSVRC_WINNERS if w.page)
    assert {e.topic for e in facts.ERRATA} <= titles


def test_googlenet_12x_is_the_papers_claim_not_an_erratum():
    assert not any("12x" in e.slide_says for e in facts.ERRATA)
    # The claim compares the paper's ~5M with AlexNet's ~60M; torchvision's ratio is ~9x.
    assert "12x" in facts.GOOGLENET_PAPER_CLAIM and "5M" in facts.GOOGLENET_PAPER_CLAIM
    note = next(f for f in facts.KEY_FACTS["GoogLeNet"] if "12x" in f)
    ratio = analyze("alexnet").total_params / analyze("googlenet").total_params
    assert f"about {ratio:.0f}x fewer" in note and round(ratio) == 9
