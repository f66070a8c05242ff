from datetime import date
from pathlib import Path

import pytest

from pipelines_core.config import load_config
from pipelines_core.errors import ConfigError


def test_environment_overrides_defaults_and_types_are_coerced(tmp_path):
    cfg = load_config(env={"WORKBENCH_SCALE": "1_000_000", "WORKBENCH_SPARK_MODE": "connect",
                           "WORKBENCH_LAKE_ROOT": str(tmp_path / "lk"),
                           "WORKBENCH_BAD_DAYS": "2026-11-03, 2026-11-05",
                           "WORKBENCH_CONFIG": str(_toml(tmp_path, 'seed = 7\n'))})
    assert cfg.scale == 1_000_000
    assert cfg.spark_mode == "connect"
    assert cfg.lake_root == (tmp_path / "lk").resolve()
    assert cfg.bad_days == (date(2026, 11, 3), date(2026, 11, 5))
    assert cfg.seed == 7  # from the file
    assert cfg.connect_url == "sc://127.0.0.1:15002"


def test_precedence_is_overrides_then_env_then_file(tmp_path):
    env = {"WORKBENCH_CONFIG": str(_toml(tmp_path, 'scale = 500\nseed = 3\nnamespace = "f"\n')),
           "WORKBENCH_SCALE": "700"}
    cfg = load_config(env=env, namespace="o")
    assert (cfg.scale, cfg.seed, cfg.namespace) == (700, 3, "o")


def test_retry_overrides_replace_only_what_is_set(tmp_path):
    from pipelines_core.spec import CUSTOMER_DAILY_ETL, retry_policy

    cfg = load_config(env={"WORKBENCH_RETRY_BASE_DELAY_S": "0.5", "WORKBENCH_RETRIES": "4"})
    policy = retry_policy(CUSTOMER_DAILY_ETL, cfg)
    assert (policy.retries, policy.base_delay_s) == (4, 0.5)
    assert policy.max_delay_s == CUSTOMER_DAILY_ETL.retry.max_delay_s
    assert load_config(env=cfg.to_env()) == cfg  # round trip through a child's environment


@pytest.mark.parametrize("env, needle", [
    ({"WORKBENCH_SCALE": "lots"}, "scale"),
    ({"WORKBENCH_SCALE": "10"}, "scale"),
    ({"WORKBENCH_SPARK_MODE": "yarn"}, "spark_mode"),
    ({"WORKBENCH_SPARK_MODE": "remote", "WORKBENCH_SPARK_URL": "http://x"}, "spark_url"),
    ({"WORKBENCH_NAMESPACE": "../etc"}, "namespace"),
    ({"WORKBENCH_BAD_DAYS": "2026-13-01"}, "2026-13-01"),
    ({"WORKBENCH_CONFIG": "/nonexistent/workbench.toml"}, "does not exist"),
])
def test_invalid_values_name_the_setting(env, needle):
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    assert needle in str(err.value)


def test_unknown_key_in_file_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting 'scael'"):
        load_config(env={"WORKBENCH_CONFIG": str(_toml(tmp_path, "scael = 5\n"))})


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wb.toml"
    path.write_text("[workbench]\n" + text)
    return path


def test_boolean_settings_parse_strictly():
    assert load_config(env={"WORKBENCH_NOOP": "true"}).noop is True
    assert load_config(env={"WORKBENCH_NOOP": "0"}).noop is False
    with pytest.raises(ConfigError, match="noop"):
        load_config(env={"WORKBENCH_NOOP": "maybe"})


def test_driver_host_reaches_remote_executors():
    from pipelines_core.spark import _spark_conf

    local = _spark_conf(load_config(env={}))
    assert (local["spark.driver.host"], local["spark.driver.bindAddress"]) == ("127.0.0.1",
                                                                             "127.0.0.1")
    cfg = load_config(env={"WORKBENCH_SPARK_DRIVER_HOST": "10.1.2.3"})
    remote = _spark_conf(cfg)
    assert (remote["spark.driver.host"], remote["spark.driver.bindAddress"]) == ("10.1.2.3",
                                                                               "0.0.0.0")
    assert cfg.to_env()["WORKBENCH_SPARK_DRIVER_HOST"] == "10.1.2.3"
