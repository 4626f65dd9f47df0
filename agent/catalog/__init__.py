"""The cause catalogue, laid out like playbooks/: importing it registers every detector and fixer."""

from agent.catalog.files import app_certificate_missing as app_certificate_missing
from agent.catalog.files import app_credentials_invalid as app_credentials_invalid
from agent.catalog.files import app_not_installed as app_not_installed
from agent.catalog.files import no_onedrive_access as no_onedrive_access
from agent.catalog.mail import account_unlicensed as account_unlicensed
from agent.catalog.mail import bad_credentials as bad_credentials
from agent.catalog.mail import exo_app_missing_full_access as exo_app_missing_full_access
from agent.catalog.mail import legacy_auth_disabled as legacy_auth_disabled
from agent.catalog.mail import mfa_blocks_service_account as mfa_blocks_service_account
from agent.catalog.mail import sso_federated_account as sso_federated_account
from agent.catalog.sharepoint import no_full_control as no_full_control
from agent.catalog.sharepoint import not_site_collection_admin as not_site_collection_admin
from agent.catalog.sharepoint import target_site_missing as target_site_missing
