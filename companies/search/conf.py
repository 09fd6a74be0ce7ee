"""The search settings (``settings.COMPANY_SEARCH``) with their defaults, read in one place."""

from django.conf import settings

DEFAULTS = {
    "QDRANT_URL": "",
    "QDRANT_API_KEY": "",
    "QDRANT_PATH": "var/qdrant",
    "QDRANT_TIMEOUT": 5,
    "COLLECTION": "companies",
    "EMBEDDED_ENGINE": "edge",
    "SHARD_NUMBER": None,
    "REPLICATION_FACTOR": None,
    "WRITE_CONSISTENCY_FACTOR": None,
    "EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2",
    "MODEL_DIR": "var/models/all-MiniLM-L6-v2",
    "EMBEDDING_THREADS": None,
    "BATCH_SIZE": 256,
    "EMBED_BATCH_SIZE": 32,
    "BM25_AVG_LEN": 40,
    "SIGNAL_PROCESSOR": "companies.signals.InProcessSignalProcessor",
    "REPAIR_INTERVAL": 15 * 60,
}


def search_setting(name):
    return getattr(settings, "COMPANY_SEARCH", {}).get(name, DEFAULTS[name])
