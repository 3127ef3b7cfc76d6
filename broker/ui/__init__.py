"""The web console at /ui and the admin API's docs page, served from files in this package.

No build step and no CDN: plain JavaScript modules, a small SVG chart, and the Swagger UI
files that the `fastapi-offline` wheel ships. The console is a client of the admin API: it
holds the admin token in the tab's sessionStorage and sends it as a bearer header.
"""

from broker.ui.routes import install_console

__all__ = ["install_console"]
