"""The cause catalogue: detectors and fixers registered by name; importing this package registers them all."""

from agent.catalog import accounts as accounts
from agent.catalog import conditional_access as conditional_access
from agent.catalog import exchange as exchange
from agent.catalog import federation as federation
from agent.catalog import licensing as licensing
