"""A known key goes through config, a WorkerContext, events and the store; it shows up nowhere.

The key is put where a user would put it (credentials.toml, a key variable, and by mistake in
agents.toml), every object it reaches is rendered every way the project renders things (repr,
str, JSON with the project's hook, error messages, events, state), the results go through a
real `Store`, and then `.slop/` and all output are searched for the key.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import msgspec
import pytest

from slop_tui.config import ConfigError, load_config
from slop_tui.models import (
    AnyEvent,
    ErrorRaised,
    HintGiven,
    ModelText,
    RunStarted,
    Ticket,
    Tier,
    ToolResult,
    Track,
    UsageUpdated,
    WorkerContext,
    enc_hook,
)
from slop_tui.store import SessionState, Store
from tests.config.helpers import Setup

FILE_KEY = "sk-leak-test-FILE-7c1d2e3f4a5b6c7d8e9f"
ENV_KEY = "sk-leak-test-ENV-0a1b2c3d4e5f6a7b8c9d"
SECRETS = (FILE_KEY, ENV_KEY)


def _assert_clean(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in SECRETS:
        assert secret.encode() not in data, f"key found in {where}"
        # A partial leak is a leak too: nothing past the 4-character mask may show.
        assert secret[:12].encode() not in data, f"part of a key found in {where}"


def _config_errors(setup: Setup) -> list[ConfigError]:
    """Every config refusal a key can be caught up in, each with the key in the file."""
    errors: list[ConfigError] = []
    attempts = [
        ("agents", f'[providers.openai]\napi_key = "{FILE_KEY}"\n', 0o644),
        ("credentials", f"[openai]\napi_key = {FILE_KEY}\n", 0o600),  # unquoted: bad TOML
        ("credentials", f'[openai]\nkey = "{FILE_KEY}"\n', 0o600),  # unknown key
        ("credentials", f'api_key = "{FILE_KEY}"\n', 0o600),  # not under a provider
        ("credentials", f'[openai]\napi_key = "{FILE_KEY}"\n', 0o644),  # readable by others
        ("credentials", f'[openai]\napi_key = ["{FILE_KEY}"]\n', 0o600),  # not a string
    ]
    for which, text, mode in attempts:
        (setup.config / "agents.toml").unlink(missing_ok=True)
        (setup.config / "credentials.toml").unlink(missing_ok=True)
        if which == "agents":
            setup.agents(text)
        else:
            setup.credentials(text, mode=mode)
        with pytest.raises(ConfigError) as caught:
            load_config(setup.repo, env=setup.env(DEEPSEEK_API_KEY=ENV_KEY))
        errors.append(caught.value)
    (setup.config / "agents.toml").unlink(missing_ok=True)
    (setup.config / "credentials.toml").unlink(missing_ok=True)
    return errors


def test_a_key_never_leaves_config_and_provider(setup: Setup, capfd: pytest.CaptureFixture[str]) -> None:
    errors = _config_errors(setup)
    assert len(errors) == 6

    setup.credentials(f'[openai]\napi_key = "{FILE_KEY}"\n')
    env = setup.env(DEEPSEEK_API_KEY=ENV_KEY, ANTHROPIC_API_KEY="sk-ant-other-000000000000")
    config = load_config(setup.repo, env=env)
    worker = config.model_for(Tier.WORKER)
    cheap = config.model_for(Tier.DEFAULT_CHEAP)
    # The keys are really there, for the one provider that needs each.
    assert worker.api_key is not None and worker.api_key.reveal() == ENV_KEY
    assert cheap.api_key is not None and cheap.api_key.reveal() == FILE_KEY

    context = WorkerContext(ticket_id="t1", assigned_model=worker.label, credentials=worker.api_key)
    rendered: dict[str, str] = {
        "repr(config)": repr(config),
        "str(config)": str(config),
        "repr(spec)": repr(worker) + repr(cheap),
        "repr(secret)": repr(worker.api_key) + str(worker.api_key),
        "masked": worker.api_key.masked() + cheap.api_key.masked(),
        "repr(context)": repr(context) + str(context),
        "json(config)": msgspec.json.encode(config, enc_hook=enc_hook).decode(),
        "json(spec)": msgspec.json.encode([worker, cheap], enc_hook=enc_hook).decode(),
        "json(context)": msgspec.json.encode(context, enc_hook=enc_hook).decode(),
        "builtins(context)": repr(msgspec.to_builtins(context, enc_hook=enc_hook)),
        "errors": "\n".join(f"{e}\n{e!r}\n{e.args!r}" for e in errors),
    }
    for where, text in rendered.items():
        _assert_clean(text, where)
    # A key cannot be pickled out either.
    for obj in (config, worker, context):
        with pytest.raises(TypeError):
            pickle.dumps(obj)

    # Through events and the store: the mask alone must keep the key out (no redaction set).
    ticket = Ticket(id="t1", title="leak check", assigned_model=worker.label)
    events: list[AnyEvent] = [
        RunStarted(run_id="r1", prompt="check for leaks"),
        ModelText(ticket_id="t1", tier=Tier.WORKER, text=rendered["repr(context)"]),
        ToolResult(ticket_id="t1", tool="run_command", ok=False, output=rendered["repr(config)"]),
        UsageUpdated(ticket_id="t1", tier=Tier.WORKER, model=worker.label, usage=ticket.usage),
        *(ErrorRaised(message=str(e), ticket_id="t1") for e in errors),
    ]
    store = Store(setup.repo)
    for event in events:
        store.append(event)
    store.save_state(
        SessionState(run_id="r1", prompt="check for leaks", tracks=[Track(id="a", title="A", tickets=[ticket])])
    )
    read_back = store.events()
    assert len(read_back) == len(events)
    _assert_clean(repr(read_back), "events read back")

    # A command that printed the raw key (say, `env`): the store, told the config's keys,
    # redacts it before it reaches the disk.
    with Store(setup.repo, secrets=config.keys.values()) as guarded:
        guarded.append(
            HintGiven(ticket_id="t1", command="env", exit_code=1, hint="",
                      raw_output=f"DEEPSEEK_API_KEY={ENV_KEY}\nOPENAI={FILE_KEY}\n")
        )
        assert guarded.events()[-1].raw_output.count("***") == 2  # type: ignore[union-attr]
    store.close()

    slop = setup.repo / ".slop"
    files = [p for p in slop.rglob("*") if p.is_file()]
    assert any(p.name == "events.jsonl" for p in files) and any(p.name == "state.json" for p in files)
    for path in files:
        _assert_clean(path.read_bytes(), str(path))

    # `slop doctor` with the same keys in place, and with the key file refused.
    for mode in (0o600, 0o644):
        setup.credentials(f'[openai]\napi_key = "{FILE_KEY}"\n', mode=mode)
        result = setup.doctor(keys={"DEEPSEEK_API_KEY": ENV_KEY})
        # Doctor did run and show both keys, masked.
        assert f"key sk-l… ({len(ENV_KEY)} chars) from $DEEPSEEK_API_KEY" in result.stdout
        if mode == 0o600:
            assert f"key sk-l… ({len(FILE_KEY)} chars) from {setup.config}" in result.stdout
        _assert_clean(result.stdout + result.stderr, f"doctor output (credentials mode {mode:o})")

    out, err = capfd.readouterr()
    _assert_clean(out + err, "test output")
    # Nothing else in the repository holds it either.
    for path in Path(setup.repo).rglob("*"):
        if path.is_file():
            _assert_clean(path.read_bytes(), str(path))
