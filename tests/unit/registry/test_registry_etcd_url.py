import pytest

from infra.errors import RegistryError
from infra.providers.etcd import Etcd


@pytest.mark.parametrize("url", ["127.0.0.1:2379", "ftp://h:1", "http://", "http://h:notaport", "http://h:2379/v3"])
def test_an_etcd_url_that_is_not_one_is_refused_before_any_connection(url):
    with pytest.raises(RegistryError, match="is not an etcd URL"):
        Etcd(url)


def test_the_port_defaults_to_etcds():
    assert Etcd("http://etcd.internal").url == "http://etcd.internal"
