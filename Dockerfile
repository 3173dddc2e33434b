# citebot: the Telegram bot by default, CPU only, nothing downloaded at run time.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    CITEBOT_CORPUS=/app/corpus CITEBOT_INDEX=/app/index CITEBOT_AUTO_BUILD=0

WORKDIR /app
# CPU torch, pinned, before anything that depends on torch.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY index/ index/
COPY bot/ bot/
RUN pip install .
COPY corpus/ corpus/
# The index is built into the image; at run time it is read-only. The ONNX export cache of
# the build is left out of the image.
RUN XDG_CACHE_HOME=/tmp/build-cache citebot index build && rm -rf /tmp/build-cache \
    && chmod -R a-w /app/index /app/corpus

RUN useradd --system --uid 10001 --no-create-home citebot
USER citebot
# Webhook mode listens here (`citebot telegram --webhook-url ...`); long polling needs no port.
EXPOSE 8080
CMD ["citebot", "telegram"]
