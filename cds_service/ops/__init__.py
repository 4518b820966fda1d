"""Operations: health probes, metrics, logging, the OpenAPI document, clean startup errors."""
