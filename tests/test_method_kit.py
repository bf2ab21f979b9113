"""The conformance kit finds each kind of broken method, naming the check that failed."""

import numpy as np
import pytest

from rppgbench.method import Method
from rppgbench.params import Param
from rppgbench.testing import METHOD_CHECKS, check_method


class Mean(Method):
    """Mean green minus its mean: the smallest method that keeps the contract."""

    name = "kit-mean"
    params = (Param("scale", 1.0, "Output scale."),)

    def predict(self, clip):
        green = np.asarray(clip.frames, dtype=np.float64)[..., 1].mean(axis=(1, 2))
        return self.config["scale"] * (green - green.mean())


class Short(Mean):
    name = "kit-short"

    def predict(self, clip):
        return super().predict(clip)[:-1]


class Noisy(Mean):
    name = "kit-noisy"

    def predict(self, clip):
        return super().predict(clip) + np.random.default_rng().normal(size=len(clip))


class Forgetful(Mean):
    """Trains, but keeps nothing it could save."""

    name = "kit-forgetful"
    trains = True

    def fit(self, train, context):
        self.offset = float(len(train))


class Scribbler(Mean):
    name = "kit-scribbler"

    def predict(self, clip):
        clip.frames[0, 0, 0] = 0
        return super().predict(clip)


def test_a_method_that_keeps_the_contract_passes_every_check():
    assert check_method(Mean, {"scale": 2.0}) == [check.__name__ for check in METHOD_CHECKS]


@pytest.mark.parametrize(
    ("cls", "failure"),
    [
        (Short, r"check_output: method 'kit-short': predict gave shape \(130,\) for a clip of 131 frames"),
        (Noisy, r"check_determinism: method 'kit-noisy': predicting twice differs \(largest difference"),
        (Forgetful, "check_contract: method 'kit-forgetful': trains but does not implement `save`"),
        (Scribbler, "check_output: method 'kit-scribbler': predict changed the clip's frames"),
    ],
)
def test_each_broken_method_fails_the_check_that_names_its_fault(cls, failure):
    with pytest.raises(AssertionError, match=failure):
        check_method(cls)
