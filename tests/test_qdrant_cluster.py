"""A Qdrant cluster's collection settings (QDRANT_SHARDS, QDRANT_REPLICATION_FACTOR,
QDRANT_WRITE_CONSISTENCY) reach the creation of each collection.

No Qdrant server runs in the tests: qdrant-client's local mode runs the server engine's code path
(QdrantServerStore) and accepts the same creation call, ignoring the cluster options.
"""

import pytest

from companies.search.engines import close_store
from companies.search.indexing import index_companies, open_index
from companies.search.query import search_companies
from companies.search.store_qdrant import QdrantServerStore, cluster_options
from tests.conftest import search_settings
from tests.factories import make_company

pytestmark = pytest.mark.django_db

CLUSTER = {"SHARD_NUMBER": 6, "REPLICATION_FACTOR": 3, "WRITE_CONSISTENCY_FACTOR": 2}


def test_the_cluster_settings_are_passed_to_create_collection(settings):
    settings.COMPANY_SEARCH = search_settings(**CLUSTER)
    assert cluster_options() == {
        "shard_number": 6,
        "replication_factor": 3,
        "write_consistency_factor": 2,
    }


def test_unset_they_leave_the_servers_defaults(settings):
    settings.COMPANY_SEARCH = search_settings(SHARD_NUMBER=None, REPLICATION_FACTOR=2)
    assert cluster_options() == {"replication_factor": 2}


def test_a_collection_created_with_them_serves_searches(settings, tmp_path):
    settings.COMPANY_SEARCH = search_settings(
        EMBEDDED_ENGINE="qdrant-local", QDRANT_PATH=str(tmp_path / "local"), **CLUSTER
    )
    try:
        store = open_index()
        assert isinstance(store, QdrantServerStore)
        company = make_company("Zephyr Labs", description="Quantum computing in the cloud.")
        index_companies([company.pk])
        assert search_companies("quantum cloud").hits[0].company == company
    finally:
        close_store()
