"""A Qdrant cluster's collection settings (QDRANT_SHARDS, QDRANT_REPLICATION_FACTOR,
QDRANT_WRITE_CONSISTENCY) reach the creation of each collection.

No Qdrant server runs in the tests: the store runs on qdrant-client's local mode through a client
that records what ``create_collection`` receives and then creates the collection for real.
"""

import pytest

from companies.search.indexing import index_metadata
from companies.search.store_qdrant import QdrantServerStore
from tests.helpers import RecordingClient, search_settings

pytestmark = pytest.mark.django_db

CLUSTER = {"SHARD_NUMBER": 6, "REPLICATION_FACTOR": 3, "WRITE_CONSISTENCY_FACTOR": 2}


def created_with(settings, **cluster):
    unset = dict.fromkeys(CLUSTER)
    settings.COMPANY_SEARCH = search_settings(**{**unset, **cluster})
    client = RecordingClient(location=":memory:")
    store = QdrantServerStore(client, "companies", embedded=True)
    try:
        store.ensure_index(index_metadata())
        store.begin_rebuild({**index_metadata(), "recipe": -1})
        assert store.metadata() == index_metadata()
        return client.created
    finally:
        store.close()


def test_the_cluster_settings_reach_every_collection_created(settings):
    created = created_with(settings, **CLUSTER)
    assert len(created) == 2  # the live collection and a rebuild's
    for kwargs in created:
        assert (
            kwargs["shard_number"],
            kwargs["replication_factor"],
            kwargs["write_consistency_factor"],
        ) == (6, 3, 2)


def test_unset_they_leave_the_servers_defaults(settings):
    created = created_with(settings, REPLICATION_FACTOR=2)
    assert created[0]["replication_factor"] == 2
    assert "shard_number" not in created[0] and "write_consistency_factor" not in created[0]
