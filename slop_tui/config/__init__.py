"""Which model each tier uses (`agents.toml`), where keys come from (`credentials.toml`), and
what a repository's `.slop.toml` may change (only tighten: see `overrides.REPO_OVERRIDES`).

`files` reads a config file safely, `spec` holds the settings and defaults, `overrides` the
repository rule, `load` puts them together.
"""

from slop_tui.config.files import (
    MAX_CONFIG_BYTES,
    ConfigError,
    CredentialsError,
    CredentialsPermissionError,
)
from slop_tui.config.load import load_config
from slop_tui.config.overrides import REPO_OVERRIDES, REPO_REFUSED_RUN, RUN_MINIMUM, Rule
from slop_tui.config.spec import (
    AGENTS_FILE,
    BUILTIN_PROVIDERS,
    CONFIG_DIR_ENV,
    CREDENTIALS_FILE,
    DEFAULT_MODELS,
    PRICES_DATED,
    DEFAULT_PRICES,
    DEFAULT_WINDOWS,
    DEMO_SCENARIO_NAMES,
    OLD_REPO_AGENTS,
    OTHER_KEY_ENVS,
    REPO_AGENTS,
    USUAL_KEY_ENVS,
    WINDOWS_DATED,
    Config,
    KeyOrigin,
    ModelSpec,
    NetworkSetting,
    PriceSpec,
    ProviderKind,
    ProviderSpec,
    RunSettings,
    config_dir,
)

__all__ = [
    "AGENTS_FILE",
    "BUILTIN_PROVIDERS",
    "CONFIG_DIR_ENV",
    "CREDENTIALS_FILE",
    "DEFAULT_MODELS",
    "PRICES_DATED",
    "DEFAULT_PRICES",
    "DEFAULT_WINDOWS",
    "DEMO_SCENARIO_NAMES",
    "MAX_CONFIG_BYTES",
    "OLD_REPO_AGENTS",
    "OTHER_KEY_ENVS",
    "REPO_AGENTS",
    "REPO_OVERRIDES",
    "REPO_REFUSED_RUN",
    "RUN_MINIMUM",
    "USUAL_KEY_ENVS",
    "WINDOWS_DATED",
    "Config",
    "ConfigError",
    "CredentialsError",
    "CredentialsPermissionError",
    "KeyOrigin",
    "ModelSpec",
    "NetworkSetting",
    "PriceSpec",
    "ProviderKind",
    "ProviderSpec",
    "Rule",
    "RunSettings",
    "config_dir",
    "load_config",
]
