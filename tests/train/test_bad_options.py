"""Options that used to end in a traceback or in a silently wrong run are refused with one
message naming the option, what was expected and what arrived: the device, a model too large
for memory, an exploding learning rate, truncated/stateful BPTT on a bidirectional model and a
monitor the epoch rows do not have."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import BatchLoader, StreamLoader, adding_problem
from rnnkit.errors import ConfigError
from rnnkit.models import SequenceClassifier, SequenceRegressor
from rnnkit.train import DivergenceError, TrainConfig, Trainer, TruncatedBPTT
from rnnkit.train import distributed as distributed_module
from rnnkit.train.memory import (
    ModelTooLargeError,
    build_model_within_memory,
    measure,
    model_size,
)
from tests.train.helpers import adding_loader, regressor

# --- device -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device,hint", [
    ("foo", ""),
    ("cdua", " (did you mean 'cuda'?)"),
    ("CPU", " (did you mean 'cpu'?)"),
    ("cuda:x", " (did you mean 'cuda'?)"),
    ("meta", ""),
])
def test_a_device_of_no_valid_form_lists_the_forms(device: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig(device=device)
    assert str(caught.value) == (
        f"TrainConfig: device must be 'cpu', 'cuda', 'cuda:N' (GPU number N) or 'mps', "
        f"got {device!r}{hint}"
    )


@pytest.mark.parametrize("device", ["", 3, None])
def test_a_device_that_is_not_a_string_is_refused(device) -> None:
    with pytest.raises(ConfigError, match=r"device must be 'cpu', 'cuda', 'cuda:N' \(GPU number "
                       r"N\) or 'mps', got " + repr(repr(device))[1:-1]):
        TrainConfig(device=device)


def test_cuda_without_cuda_says_so_and_what_to_use(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as caught:
        TrainConfig(device="cuda")
    message = str(caught.value)
    assert message.startswith(
        "TrainConfig: device must be a device this machine has, got 'cuda', but CUDA is not "
        "available: this torch ("
    )
    assert message.endswith("; use device='cpu' (--device cpu)")


def test_a_gpu_number_past_the_visible_gpus_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    TrainConfig(device="cuda:1")  # exists
    with pytest.raises(ConfigError) as caught:
        TrainConfig(device="cuda:2")
    assert str(caught.value) == (
        "TrainConfig: device must be a GPU of this machine, 'cuda:0' to 'cuda:1' (2 GPU(s) "
        "visible), got 'cuda:2'"
    )


def test_the_trainer_checks_a_device_changed_after_the_config_was_made() -> None:
    config = TrainConfig(quiet=True, plots=False)
    config.device = "tpu"
    with pytest.raises(ValueError, match=r"^Trainer: device must be 'cpu', 'cuda', 'cuda:N'"):
        Trainer(regressor(), config)


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_cpu_devices_are_accepted(device: str) -> None:
    assert distributed_module.device_problem(device) is None
    assert TrainConfig(device=device).device == device


# --- a model too large for memory --------------------------------------------------------------


def test_a_huge_hidden_size_is_refused_before_anything_is_allocated() -> None:
    with pytest.raises(ModelTooLargeError) as caught:
        build_model_within_memory(lambda: SequenceRegressor(2, 100_000, cell="lstm"),
                                  lower="--hidden-size or --num-layers")
    err = caught.value
    # LSTM(2 -> 100000) + Linear(100000 -> 1): 4H·2 + 4H·H + 8H + H + 1 parameters.
    h = 100_000
    params = 4 * h * 2 + 4 * h * h + 8 * h + h + 1
    assert err.parameters == params
    assert err.needed_bytes == params * 4 * 4  # float32, adam: weights, grads, two moments
    message = str(err)
    assert message.startswith("The model does not fit in memory: training it needs 596.1 GiB "
                              "on cpu, and this machine has ")
    assert (f"({params:,} parameters × 4 bytes = 149.0 GiB; training keeps 4 copies (weights, "
            "gradients, optimiser state): 596.1 GiB; the largest tensor is "
            "backbone.weight_hh_l0 (400000, 100000)). Lower --hidden-size or --num-layers.") \
        in message
    assert isinstance(err, MemoryError)


def test_by_default_the_message_names_the_options_of_the_largest_tensor() -> None:
    with pytest.raises(ModelTooLargeError, match=r"Lower --hidden-size \(the recurrent weights "
                       r"grow with its square\) or --num-layers\.$"):
        build_model_within_memory(lambda: SequenceRegressor(2, 100_000, cell="gru"))

    class Embedded(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(10_000_000, 100_000)

    with pytest.raises(ModelTooLargeError, match=r"the largest tensor is embedding.weight "
                       r"\(10000000, 100000\)\)\. Lower --embedding-dim \(or the vocabulary "
                       r"size: --min-freq, --max-vocab\)\.$"):
        build_model_within_memory(Embedded)


def test_the_optimizer_sets_how_many_copies_are_counted(monkeypatch) -> None:
    from rnnkit.train import memory

    size = measure(lambda: SequenceRegressor(2, 16, cell="gru"))
    # Room for exactly three copies: sgd (3) fits, adam (4) does not.
    monkeypatch.setattr(memory, "available_memory", lambda device="cpu": size.bytes * 3)
    build_model_within_memory(lambda: SequenceRegressor(2, 16, cell="gru"), optimizer="sgd")
    with pytest.raises(ModelTooLargeError, match=r"training it needs .* on cpu"):
        build_model_within_memory(lambda: SequenceRegressor(2, 16, cell="gru"),
                                  optimizer="adam")


def test_on_a_gpu_the_cpu_holds_the_weights_and_the_gpu_everything(monkeypatch) -> None:
    from rnnkit.train import memory

    size = measure(lambda: SequenceRegressor(2, 16))
    free = {"cpu": size.bytes, "cuda": size.bytes * 4 - 1}  # the GPU lacks one byte for adam
    monkeypatch.setattr(memory, "available_memory",
                        lambda device="cpu": free[torch.device(device).type])
    with pytest.raises(ModelTooLargeError) as caught:
        build_model_within_memory(lambda: SequenceRegressor(2, 16), device="cuda")
    assert str(caught.value).startswith(
        f"The model does not fit in memory: training it needs {size.bytes * 4 / 1024**3:.1f} GiB "
        "on cuda, and this machine has "
    )
    assert caught.value.available_bytes == size.bytes * 4 - 1
    free["cuda"] += 1
    build_model_within_memory(lambda: SequenceRegressor(2, 16), device="cuda")
    free["cpu"] -= 1  # now the CPU cannot even hold the weights while building
    with pytest.raises(ModelTooLargeError, match=r"building it needs .* on cpu"):
        build_model_within_memory(lambda: SequenceRegressor(2, 16), device="cuda")


def test_measuring_counts_exactly_and_leaves_the_initial_weights_unchanged() -> None:
    torch.manual_seed(0)
    direct = SequenceRegressor(2, 16, cell="gru", num_layers=2)
    after_direct = torch.rand(3)
    torch.manual_seed(0)
    checked = build_model_within_memory(
        lambda: SequenceRegressor(2, 16, cell="gru", num_layers=2)
    )
    after_checked = torch.rand(3)
    for (name, a), b in zip(direct.state_dict().items(), checked.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(after_direct, after_checked)  # same generator position afterwards
    size = measure(lambda: SequenceRegressor(2, 16, cell="gru", num_layers=2))
    assert size == model_size(direct)
    assert size.parameters == sum(p.numel() for p in direct.parameters())


def test_an_allocation_failure_while_building_becomes_a_clear_error(monkeypatch) -> None:
    from rnnkit.train import memory

    monkeypatch.setattr(memory, "available_memory", lambda device="cpu": None)  # unknown
    calls = []

    def build():
        calls.append(torch.empty(0).device.type)
        if calls[-1] == "meta":
            return SequenceRegressor(2, 8)
        # What torch's CPU allocator raises when the operating system refuses the memory.
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 160000000000 bytes.")

    with pytest.raises(ModelTooLargeError) as caught:
        build_model_within_memory(build, lower="--hidden-size")
    assert calls == ["meta", "cpu"]
    message = str(caught.value)
    assert message.startswith("The model does not fit in memory: allocating its weights failed "
                              "(RuntimeError: [enforce fail at alloc_cpu.cpp:127]")
    assert message.endswith("the largest tensor is backbone.weight_hh_l0 (32, 8)). "
                            "Lower --hidden-size.")


def test_other_build_errors_pass_through_unchanged() -> None:
    def build():
        raise RuntimeError("something else went wrong")

    with pytest.raises(RuntimeError, match=r"^something else went wrong$"):
        build_model_within_memory(build)


# --- an exploding loss -------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_huge_learning_rate_that_keeps_the_loss_finite_still_stops(cell: str) -> None:
    # With clipping every update moves the weights by about lr: the loss jumps from ~1 to
    # ~1e19 and stays finite; such a run used to finish and keep a useless model.
    x, y = adding_problem(64, 10, seed=0)
    loader = BatchLoader(x, y, batch_size=16, target_at="last", seed=0)
    trainer = Trainer(regressor(cell), TrainConfig(epochs=3, lr=1e9, clip_norm=1.0, quiet=True,
                                                   plots=False))
    with pytest.raises(DivergenceError) as caught:
        trainer.fit(loader)
    err = caught.value
    message = str(err)
    first = trainer.history.steps["loss"][0]
    assert err.step == 1
    assert message.startswith("Training diverged at update 1 (epoch 0, batch 1): the loss is ")
    assert (f", more than 1e+06 times the first update's loss ({first:.6g} at update 0, from "
            "the untrained weights): the loss is exploding, the weights are running away; the "
            f"last finite loss was {first:.6g} at update 0. Try a learning rate 10 to 1000 "
            "times lower (--lr, TrainConfig.lr; it is 1e+09 now)") in message
    assert trainer.history.num_steps == 1  # the exploded update was not taken


def test_a_normal_run_never_trips_the_explosion_check() -> None:
    # A brisk but ordinary run: the loss moves around, nowhere near 1e6 × its start.
    loader = adding_loader(n=128, length=12, batch_size=16)
    trainer = Trainer(regressor("lstm"), TrainConfig(epochs=6, lr=3e-2, quiet=True, plots=False))
    trainer.fit(loader)
    losses = trainer.history.steps["loss"]
    assert len(losses) == 6 * 8
    assert max(losses) < 1e6 * max(abs(losses[0]), 1.0)
    assert trainer.first_loss == losses[0]


def test_the_explosion_check_can_be_switched_off() -> None:
    x, y = adding_problem(64, 10, seed=0)
    loader = BatchLoader(x, y, batch_size=16, target_at="last", seed=0)
    trainer = Trainer(regressor("gru"), TrainConfig(epochs=1, lr=1e9, clip_norm=1.0, quiet=True,
                                                    plots=False))
    trainer.divergence_factor = None
    trainer.fit(loader)
    assert trainer.history.num_steps == 4


def test_the_first_loss_survives_a_resume(tmp_path) -> None:
    config = TrainConfig(epochs=1, lr=1e-2, quiet=True, plots=False, out_dir=str(tmp_path))
    first = Trainer(regressor("lstm"), config)
    first.fit(adding_loader())
    config2 = TrainConfig(epochs=2, lr=1e-2, quiet=True, plots=False, out_dir=str(tmp_path))
    resumed = Trainer(regressor("lstm"), config2)
    resumed.fit(adding_loader(), resume=True)
    assert resumed.first_loss == first.first_loss
    assert resumed.first_loss_step == 0


# --- truncated or stateful BPTT on a bidirectional model --------------------------------------


def _classifier(bidirectional: bool) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(2, input_size=2, hidden_size=4, bidirectional=bidirectional)


def _class_loader() -> BatchLoader:
    x, _ = adding_problem(32, 8, seed=0)
    y = torch.arange(32) % 2
    return BatchLoader(x, y, batch_size=8, target_at="last", seed=0)


@pytest.mark.parametrize("bptt,k1,described", [
    ("truncated", 4, "truncated(k1=4, k2=4)"),
    ("stateful", None, "stateful(k1=T, k2=T)"),
    ("stateful", 2, "stateful(k1=2, k2=2)"),
])
def test_truncated_or_stateful_bptt_refuses_a_bidirectional_model(bptt, k1, described) -> None:
    config = TrainConfig(epochs=1, bptt=bptt, k1=k1, quiet=True, plots=False)
    trainer = Trainer(_classifier(True), config)
    with pytest.raises(ValueError) as caught:
        trainer.fit(_class_loader())
    assert str(caught.value) == (
        f"Trainer.fit: bptt={bptt!r} ({described}) needs a unidirectional model, got a "
        "bidirectional one ('encoder.rnn'): a backward direction reads each sequence from its "
        "end, so it cannot be cut into windows run forward in time nor carry its state from "
        "one batch to the next; use bptt='full' (--bptt full) or a unidirectional model "
        "(bidirectional=False)"
    )
    assert trainer.history.num_steps == 0  # refused before any update


def test_full_bptt_and_whole_batch_windows_still_train_a_bidirectional_model() -> None:
    full = Trainer(_classifier(True), TrainConfig(epochs=1, quiet=True, plots=False))
    full.fit(_class_loader())
    whole = Trainer(_classifier(True), TrainConfig(epochs=1, quiet=True, plots=False),
                    strategy=TruncatedBPTT())  # k1=None: one window per batch, nothing carried
    whole.fit(_class_loader())
    assert full.history.steps["loss"] == whole.history.steps["loss"]


def test_truncated_bptt_still_trains_a_unidirectional_model() -> None:
    config = TrainConfig(epochs=1, bptt="truncated", k1=4, quiet=True, plots=False)
    trainer = Trainer(_classifier(False), config)
    trainer.fit(_class_loader())
    assert trainer.history.num_steps > 0


def test_stateful_streams_refuse_a_bidirectional_torch_layer_too() -> None:
    class Bi(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.GRU(1, 3, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(6, 1)

        def forward(self, inputs, state=None, *, lengths=None):
            out, h = self.rnn(inputs, state)
            return self.head(out).squeeze(-1), h

        def loss(self, outputs, batch):
            return ((outputs - batch.targets) ** 2)[batch.mask].mean()

    series = torch.randn(200)
    loader = StreamLoader(series[:-1, None], series[1:], batch_size=4, chunk_len=10)
    config = TrainConfig(epochs=1, bptt="stateful", quiet=True, plots=False)
    with pytest.raises(ValueError, match=r"bidirectional one \('rnn'\)"):
        Trainer(Bi(), config).fit(loader)


# --- a monitor the epoch rows do not have ------------------------------------------------------


def _regression_loaders():
    return adding_loader(n=32, batch_size=16), adding_loader(n=16, batch_size=16, seed=1)


@pytest.mark.parametrize("early_stopping", [None, 2])
def test_an_unknown_val_monitor_lists_the_validation_values(early_stopping) -> None:
    train, val = _regression_loaders()
    config = TrainConfig(epochs=2, monitor="val_bogus", early_stopping=early_stopping,
                         quiet=True, plots=False)
    with pytest.raises(ValueError) as caught:
        Trainer(regressor(), config).fit(train, val)
    message = str(caught.value)
    assert message.startswith(
        "Trainer: monitor='val_bogus' is not among this run's epoch values: the validation rows "
        "have ['val_loss', "
    )
    assert "no validation data" not in message


def test_a_misspelt_monitor_gets_a_suggestion() -> None:
    train, val = _regression_loaders()
    config = TrainConfig(epochs=1, monitor="val_los", quiet=True, plots=False)
    with pytest.raises(ValueError, match=r"\(did you mean 'val_loss'\?\)$"):
        Trainer(regressor(), config).fit(train, val)


def test_an_unknown_train_monitor_is_refused_without_validation_data() -> None:
    train, _ = _regression_loaders()
    config = TrainConfig(epochs=1, monitor="train_lost", quiet=True, plots=False)
    with pytest.raises(ValueError) as caught:
        Trainer(regressor(), config).fit(train)
    message = str(caught.value)
    assert message.startswith("Trainer: monitor='train_lost' is not among this run's epoch "
                              "values: the training rows have ['train_loss', ")
    assert message.endswith("and there are no 'val_' values (did you mean 'train_loss'?)")


def test_the_default_val_monitor_without_validation_data_still_trains() -> None:
    train, _ = _regression_loaders()
    trainer = Trainer(regressor(), TrainConfig(epochs=1, quiet=True, plots=False))
    trainer.fit(train)  # monitor='val_loss' (the default) and no val: best checkpoint unused
    assert len(trainer.history.epochs) == 1
