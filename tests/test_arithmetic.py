"""The worked formulas other pages and the quiz rely on, against the lecture's AlexNet CONV1."""

from cnnviz.arithmetic import worked_conv_params, worked_output_length


def test_existing_worked_functions_are_unchanged():
    assert worked_output_length(227, 11, 4, 0) == "(227 - 11 + 2*0)/4 + 1 = 55"
    assert worked_conv_params((11, 11), 3, 96) == "11*11*3*96 + 96 = 34,944"
