"""What a node announces as its internal URL, and that it never transcodes."""

from __future__ import annotations

from signaling.config import AppConfig
from tests.support.configs import configured
from vilokanam.server import node_app_config


def test_the_internal_url_defaults_to_the_listening_host_and_the_nodes_own_port(
    app_config: AppConfig,
) -> None:
    config = node_app_config(configured(app_config, http_host="10.1.2.3", vod_worker=True), 7891)
    assert config.cluster.node_internal_url == "http://10.1.2.3:7891"
    assert config.cluster.node_port == 7891
    assert config.media.vod_worker is False and not config.runs_vod_worker


def test_a_node_listening_everywhere_announces_its_media_address(app_config: AppConfig) -> None:
    everywhere = configured(app_config, http_host="0.0.0.0", rtc_host_addresses=("10.0.0.7",))  # noqa: S104
    assert node_app_config(everywhere, 7890).cluster.node_internal_url == "http://10.0.0.7:7890"
    announced = configured(everywhere, rtc_announced_address="203.0.113.9")
    assert node_app_config(announced, 7890).cluster.node_internal_url == "http://203.0.113.9:7890"


def test_a_set_internal_url_wins(app_config: AppConfig) -> None:
    config = configured(app_config, node_internal_url="https://node-3.internal.example")
    assert node_app_config(config, 7890).cluster.node_internal_url == (
        "https://node-3.internal.example"
    )
