"""Parameter declarations: validation, conversion and clear errors."""

import pytest

from jwinteract import Param, ParameterError
from jwinteract.params import validate_params


def test_float_bounds_and_conversion():
    p = Param("rejection_threshold", "float", 4.0, "sigma", min=0)
    assert p.validate("5") == 5.0
    assert p.validate(6) == 6.0
    with pytest.raises(ParameterError, match="below its minimum 0"):
        p.validate(-1)
    with pytest.raises(ParameterError, match="must be a float"):
        p.validate("four")
    with pytest.raises(ParameterError, match="NaN"):
        p.validate(float("nan"))


def test_int_bool_str_choices_none():
    assert Param("n", "int", 1, "").validate("3") == 3
    assert Param("n", "int", 1, "").validate(3.0) == 3
    with pytest.raises(ParameterError):
        Param("n", "int", 1, "").validate(2.5)
    assert Param("b", "bool", False, "").validate("true") is True
    with pytest.raises(ParameterError):
        Param("b", "bool", False, "").validate(0.5)
    alg = Param("algorithm", "str", "OLS_C", "", choices=("OLS_C", "LIKELY"))
    with pytest.raises(ParameterError, match="not one of"):
        alg.validate("OLS")
    opt = Param("firstgroup", "int", None, "", allow_none=True)
    assert opt.validate(None) is None and opt.validate("None") is None
    with pytest.raises(ParameterError, match="may not be None"):
        Param("n", "int", 1, "").validate(None)


def test_bad_default_is_rejected_at_declaration():
    with pytest.raises(ParameterError):
        Param("x", "float", -1.0, "", min=0)


def test_unknown_parameter_lists_known_ones():
    declared = {"rejection_threshold": Param("rejection_threshold", "float", 4.0, "")}
    with pytest.raises(
        ParameterError, match="no parameter 'rejection_treshold'.*rejection_threshold"
    ):
        validate_params("jump", declared, {"rejection_treshold": 5})
