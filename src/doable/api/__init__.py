"""The JSON API's toolkit: what every API blueprint is built from."""
