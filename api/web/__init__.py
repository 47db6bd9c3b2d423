"""The web app: pages for scientists, agencies and programme offices, served beside `/v1` by the
same FastAPI app, over the same service layer. Server-rendered (Jinja2), with htmx for partial
updates; every flow also works with JavaScript off. `install(app, api)` adds it to an app."""

from api.web.site import install

__all__ = ["install"]
