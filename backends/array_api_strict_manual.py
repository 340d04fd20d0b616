"""The hand-written backward on `array_api_strict`: proof that the model uses only the standard."""

from harness.manual import ManualBackend

backend = ManualBackend(
    name="array-api-strict", module="array_api_strict", library="array-api-strict"
)
