"""Demo upstream services the gateway is put in front of in `make demo`, tests and benchmarks.

- `create_weather_app()`: current weather and forecasts, shaped like Open-Meteo.
- `create_crm_app()`: contacts, companies, deals and notes, shaped like HubSpot's CRM v3 API.
- `BackgroundServer`: runs any ASGI app with uvicorn on a loopback port in a background thread.
"""

from broker.demo.upstreams.crm import create_crm_app
from broker.demo.upstreams.serve import BackgroundServer, ServerStartError
from broker.demo.upstreams.weather import create_weather_app

__all__ = ["BackgroundServer", "ServerStartError", "create_crm_app", "create_weather_app"]
