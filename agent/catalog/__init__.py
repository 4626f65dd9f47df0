"""The cause catalogue: detectors and fixers registered by name; importing this package registers them all."""

from agent.catalog import accounts as accounts
from agent.catalog import app_certificate as app_certificate
from agent.catalog import app_install as app_install
from agent.catalog import apps as apps
from agent.catalog import conditional_access as conditional_access
from agent.catalog import exchange as exchange
from agent.catalog import federation as federation
from agent.catalog import licensing as licensing
from agent.catalog import onedrive as onedrive
from agent.catalog import sites as sites
from agent.catalog import target_site as target_site
