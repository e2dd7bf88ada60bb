"""Secrets are recognised by the words of their keys, in any case style, and URLs lose their passwords."""

import json

import pytest

from infra.redact import MASK, is_secret_key, mask_url_passwords, masked, shown_url


@pytest.mark.parametrize("key", ["password", "db_password", "dbPassword", "privateKey", "private_key", "private-key",
                                 "PRIVATE.KEY", "ssl_key", "sslKey", "SSL-Key", "tls.key", "root_pw", "admin_pwd",
                                 "apikey", "APIKey", "api_keys", "access_key_id", "authToken", "client_secret",
                                 "credentials", "passphrase", "smtp_pass"])
def test_secret_looking_keys_in_every_case_style_are_secret(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["key", "other_key", "keyName", "monkey", "passenger", "bypass", "pwm", "environment",
                                 "ssh_username", "public_key_path"])
def test_plain_keys_are_not(key):
    assert not is_secret_key(key)


def test_a_key_under_a_parent_that_makes_it_secret_is_masked():
    value = {"ssl": {"key": "K", "cert": "C"}, "key": "value", "users": [{"name": "a", "password": "P"}]}
    assert masked(value) == {"ssl": {"key": MASK, "cert": "C"}, "key": "value",
                             "users": [{"name": "a", "password": MASK}]}
    assert masked("K", "document.default_attributes.ssl.key") == MASK
    assert masked("P", "users[0].password") == MASK and masked("v", "document.key") == "v"


def test_passwords_in_urls_are_masked_wherever_they_are():
    text = "db at postgres://app:s3cr%40t@db:5432/x, mirror http://h/a@b, user only ftp://anon@h"
    assert mask_url_passwords(text) == ("db at postgres://app:(sensitive)@db:5432/x, mirror http://h/a@b, "
                                        "user only ftp://anon@h")
    assert "hunter2" not in json.dumps(masked({"url": "redis://:hunter2@cache:6379/0"}))


def test_urls_infra_shows_carry_no_user_info():
    assert shown_url("http://admin:SECRETPW@127.0.0.1:5000/x") == "http://127.0.0.1:5000/x"
    assert shown_url("http://127.0.0.1:2379") == "http://127.0.0.1:2379"
    assert "SECRETPW" not in shown_url("http://admin:SECRETPW@[::1")  # not even parseable


def test_a_bearer_key_and_a_secret_assignment_inside_a_value_are_masked():
    from infra.redact import MASK, masked

    shown = masked({"bearer": "abc", "authBearer": "x", "dsn": "host=db user=app password=hunter2 port=5432",
                    "cmd": "run --token=t0k&pwd=p1;name=web", "note": "a=b"})
    assert shown["bearer"] == MASK and shown["authBearer"] == MASK
    assert shown["dsn"] == f"host=db user=app password={MASK} port=5432"
    assert shown["cmd"] == f"run --token={MASK}&pwd={MASK};name=web" and shown["note"] == "a=b"


def test_a_webhook_is_shown_as_scheme_and_host_since_its_path_or_query_is_its_credential():
    from infra.redact import shown_webhook

    assert shown_webhook("https://hooks.slack.com/services/T0/B0/XXXX") == "https://hooks.slack.com/(sensitive)"
    assert shown_webhook("https://user:pw@chat.example.com/hook?token=abc") == "https://chat.example.com/(sensitive)"
    assert shown_webhook("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/"
