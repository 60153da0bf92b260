"""Operations: health, Prometheus metrics, the OpenAPI document."""
