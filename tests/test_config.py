"""Tier 1: Config and RunConfig refuse what would mislead or exhaust the machine,
before TensorFlow starts; old model folders still load."""

from __future__ import annotations

import json

import pytest

from chatbot.config import MAX_PARAMETERS, Config, RunConfig
from chatbot.errors import ConfigError, ModelError


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remember_state": "no"}, "remember_state must be true or false. Received: "),
        ({"learning_rate": "0.01"}, "learning_rate must be in (0, 10]. Received: "),
        ({"learning_rate": 0.0}, "learning_rate must be in (0, 10]. Received: "),
        ({"hidden_units": 10**6}, "hidden_units must be an integer from 1 to 8192. "),
        ({"epochs": True}, "epochs must be an integer from 1 to 100000. Received: "),
        ({"weight_average": 1.0}, "weight_average must be in [0, 1). Received: "),
        ({"lr_decay": 0}, "lr_decay must be in (0, 1]. Received: lr_decay=0"),
        ({"slot_rank": -1}, "slot_rank must be an integer from 0 to 1000000. "),
        (
            {"matmul_precision": "fp16"},
            "matmul_precision must be one of auto, float32, bfloat16. Received: ",
        ),
    ],
)
def test_bad_settings_are_refused_with_their_value(changes, message):
    (name,) = changes
    kind = RunConfig if name in RunConfig.__dataclass_fields__ else Config
    with pytest.raises(ConfigError) as err:
        kind(**changes)
    assert str(err.value).startswith(message), err.value


def test_a_model_too_large_to_train_is_refused_before_any_weight_exists():
    # 100,000 x (128 + 8193) + 2 x 4 x 8192 x (128 + 8192 + 1) + attention 3 x 8192^2:
    # about 1.6 billion.
    with pytest.raises(ConfigError, match="a model of 1,578,751,648 weights is too large"):
        Config(vocab_size=100_000, hidden_units=8192, attention=True)
    assert Config().parameters < MAX_PARAMETERS


def test_the_ends_of_each_interval_are_kept_or_refused_as_written():
    assert RunConfig(lr_decay=1.0, chain=0.0, weight_average=0.0).lr_decay == 1.0
    assert Config(dropout=0.0).dropout == 0.0
    with pytest.raises(ConfigError, match=r"chain must be in \[0, 1\)"):
        RunConfig(chain=1.0)


def test_config_json_round_trips_and_rejects_what_is_not_an_object(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(Config(hidden_units=32).to_json())
    assert Config.load(path) == Config(hidden_units=32)
    path.write_text(json.dumps({**json.loads(Config().to_json()), "update_every": 4}))
    assert Config.load(path) == Config()  # a retired setting is ignored
    path.write_text("7")
    with pytest.raises(ModelError, match="must hold a JSON object"):
        Config.load(path)


OLD_FOLDER = {  # config.json as versions before the run settings moved out wrote it
    "remember_state": True, "cell": "lstm", "embed_dim": 64, "hidden_units": 192,
    "num_layers": 1, "vocab_size": 13000, "slots": 16, "min_count": 2, "max_len": 20,
    "memory_horizon": 60, "batch_size": 32, "bptt": 40, "chain": 0.5, "epochs": 3,
    "learning_rate": 0.008, "lr_decay": 1.0, "lr_patience": 1, "lr_decay_start": 0.0,
    "lr_floor": 0.0, "clip_norm": 5.0, "weight_average": 0.95, "attention": True,
    "tie_embeddings": False, "output_dim": 0, "dropout": 0.3, "matmul_precision": "auto",
    "patience": 10, "seed": 0,
}  # fmt: skip


def test_an_old_model_folder_loads_its_model_and_run_settings(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(OLD_FOLDER))
    config = Config.load(path)
    assert (config.hidden_units, config.slots, config.slot_rank) == (192, 16, 0)  # as trained
    run = RunConfig.load(tmp_path / "run.json", old_config=path)
    assert (run.batch_size, run.chain, run.epochs) == (32, 0.5, 3)
    path.write_text(json.dumps({**OLD_FOLDER, "output_dim": 128}))
    with pytest.raises(ModelError, match="output_dim=128 is a layer this version no longer has"):
        Config.load(path)


def test_the_shipped_starter_loads():
    from chatbot.model_folder import STARTER, ModelDir

    config, vocab = ModelDir(STARTER).load()
    assert len(vocab) == config.vocab_size
