"""Error texts quoted by Microsoft support engineers' blogs (agent/knowledge/support-blogs.yaml).

Each text is the literal wording its post prints: the SharePoint Developer Support team's "Fixing Client
secret expiration errors for Provider hosted add-in on SharePoint Online" (blog archive and Tech Community
copy).
"""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first


@pytest.mark.parametrize("text, cause", [
    # SharePoint Developer Support: a provider-hosted add-in whose ClientSecret expired
    ("Invalid issuer or signature.\n"
     "at Microsoft.IdentityModel.S2S.Tokens.JsonWebSecurityTokenHandler.VerifySignature(String signingInput, "
     "String signature, String algorithm, SecurityToken signingToken)\n"
     "at Microsoft.IdentityModel.S2S.Tokens.JsonWebSecurityTokenHandler.ReadTokenCore(String token, "
     "Boolean isActorToken)", "app-credentials-invalid"),
])
def test_a_support_blog_text_names_its_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)
