"""Graph v1.0 entity types the simulator serves: their property names, and which support $orderby/$search."""

from __future__ import annotations

# Property names are those of the v1.0 metadata (the resource pages under
# https://learn.microsoft.com/en-us/graph/api/resources/, e.g. resources/user.md); navigation properties are
# listed too, since $select accepts them. A name outside its type's set makes $select answer 400.


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


PROPERTIES: dict[str, frozenset[str]] = {
    "user": _names("""
    aboutMe accountEnabled activities adhocCalls ageGroup agreementAcceptances appRoleAssignments
    assignedLicenses assignedPlans authentication authorizationInfo birthday businessPhones calendar
    calendarGroups calendarView calendars chats city cloudClipboard cloudPCs companyName
    consentProvidedForMinor contactFolders contacts country createdDateTime createdObjects creationType
    customSecurityAttributes dataSecurityAndGovernance deletedDateTime department deviceEnrollmentLimit
    deviceManagementTroubleshootingEvents directReports displayName drive drives employeeExperience
    employeeHireDate employeeId employeeLeaveDateTime employeeOrgData employeeType events extensions
    externalUserState externalUserStateChangeDateTime faxNumber followedSites givenName hireDate id
    identities identityParentId imAddresses inferenceClassification insights interests
    isManagementRestricted isResourceAccount jobTitle joinedTeams lastPasswordChangeDateTime
    legalAgeGroupClassification licenseAssignmentStates licenseDetails mail mailFolders mailNickname
    mailboxSettings managedAppRegistrations managedDevices manager memberOf messages mobilePhone mySite
    notes oauth2PermissionGrants officeLocation onPremisesDistinguishedName onPremisesDomainName
    onPremisesExtensionAttributes onPremisesImmutableId onPremisesLastSyncDateTime
    onPremisesProvisioningErrors onPremisesSamAccountName onPremisesSecurityIdentifier
    onPremisesSyncBehavior onPremisesSyncEnabled onPremisesUserPrincipalName onenote onlineMeetings
    otherMails outlook ownedDevices ownedObjects passwordPolicies passwordProfile pastProjects people
    permissionGrants photo photos planner postalCode preferredDataLocation preferredLanguage
    preferredName presence print provisionedPlans proxyAddresses registeredDevices responsibilities
    schools scopedRoleMemberOf securityIdentifier serviceProvisioningErrors settings showInAddressList
    signInActivity signInSessionsValidFromDateTime skills solutions sponsorOf sponsors state
    streetAddress surname teamwork todo transitiveMemberOf usageLocation userPrincipalName userType
    """),
    "application": _names("""
    addIns api appId appManagementPolicies appRoles applicationTemplateId authenticationBehaviors
    certification createdByAppId createdDateTime createdOnBehalfOf defaultRedirectUri deletedDateTime
    description disabledByMicrosoftStatus displayName extensionProperties federatedIdentityCredentials
    groupMembershipClaims homeRealmDiscoveryPolicies id identifierUris info isDeviceOnlyAuthSupported
    isDisabled isFallbackPublicClient keyCredentials logo managerApplications
    nativeAuthenticationApisEnabled notes oauth2RequirePostResponse optionalClaims owners
    parentalControlSettings passwordCredentials publicClient publisherDomain
    requestSignatureVerification requiredResourceAccess samlMetadataUrl serviceManagementReference
    servicePrincipalLockConfiguration signInAudience spa synchronization tags tokenEncryptionKeyId
    tokenIssuancePolicies tokenLifetimePolicies uniqueName verifiedPublisher web
    """),
    "servicePrincipal": _names("""
    accountEnabled addIns alternativeNames appDescription appDisplayName appId appManagementPolicies
    appOwnerOrganizationId appRoleAssignedTo appRoleAssignmentRequired appRoleAssignments appRoles
    applicationTemplateId claimsMappingPolicies createdByAppId createdObjects customSecurityAttributes
    delegatedPermissionClassifications deletedDateTime description disabledByMicrosoftStatus displayName
    endpoints federatedIdentityCredentials homeRealmDiscoveryPolicies homepage id info isDisabled
    keyCredentials loginUrl logoutUrl memberOf notes notificationEmailAddresses oauth2PermissionGrants
    oauth2PermissionScopes ownedObjects owners passwordCredentials preferredSingleSignOnMode
    preferredTokenSigningKeyThumbprint remoteDesktopSecurityConfiguration replyUrls
    resourceSpecificApplicationPermissions samlSingleSignOnSettings servicePrincipalNames
    servicePrincipalType signInAudience synchronization tags tokenEncryptionKeyId tokenIssuancePolicies
    tokenLifetimePolicies transitiveMemberOf verifiedPublisher
    """),
    "appRoleAssignment": _names("""
    appRoleId createdDateTime deletedDateTime id principalDisplayName principalId principalType
    resourceDisplayName resourceId
    """),
    "licenseDetails": _names("""
    id servicePlans skuId skuPartNumber
    """),
    "subscribedSku": _names("""
    accountId accountName appliesTo capabilityStatus consumedUnits id prepaidUnits servicePlans skuId
    skuPartNumber subscriptionIds
    """),
    "domain": _names("""
    authenticationType availabilityStatus domainNameReferences federationConfiguration id isAdminManaged
    isDefault isInitial isRoot isVerified manufacturer model passwordNotificationWindowInDays
    passwordValidityPeriodInDays rootDomain serviceConfigurationRecords state supportedServices
    verificationDnsRecords
    """),
    "site": _names("""
    analytics columns contentTypes createdBy createdByUser createdDateTime description displayName drive
    drives eTag error externalColumns id isPersonalSite items lastModifiedBy lastModifiedByUser
    lastModifiedDateTime lists name onenote operations pages parentReference permissions root
    sharepointIds siteCollection sites termStore termStores webUrl
    """),
    "drive": _names("""
    bundles createdBy createdByUser createdDateTime description driveType eTag following id items
    lastModifiedBy lastModifiedByUser lastModifiedDateTime list name owner parentReference quota root
    sharePointIds special system webUrl
    """),
}
# /groups/{id}/members holds directoryObjects; $select there may name the derived types' properties.
PROPERTIES["directoryObject"] = (PROPERTIES["user"] | PROPERTIES["servicePrincipal"]
                                 | PROPERTIES["application"])

# Directory (Entra) objects: $search, $count and $orderby beyond the defaults need the advanced query
# parameters (https://learn.microsoft.com/en-us/graph/aad-advanced-queries).
DIRECTORY_TYPES = frozenset({"user", "application", "servicePrincipal", "appRoleAssignment",
                             "directoryObject"})

# $orderby support by property: True = works by default, False = needs the advanced query parameters
# (aad-advanced-queries, "Support for sorting by properties of Azure AD (directory) objects").
SORTABLE: dict[str, dict[str, bool]] = {
    "user": {"displayName": True, "userPrincipalName": True, "createdDateTime": False,
             "deletedDateTime": False},
    "application": {"displayName": False, "createdDateTime": False, "deletedDateTime": False},
    "servicePrincipal": {"displayName": False, "createdDateTime": False, "deletedDateTime": False},
}

# Properties that $search="property:value" tokens may name
# (https://learn.microsoft.com/en-us/graph/search-query-parameter#using-search-on-directory-object-collections):
# displayName and description on every directory type, plus the user's name and address properties.
SEARCHABLE: dict[str, frozenset[str]] = {
    "user": frozenset({"displayName", "description", "givenName", "surname", "mail", "mailNickname",
                       "userPrincipalName", "otherMails", "proxyAddresses", "jobTitle"}),
    "application": frozenset({"displayName", "description"}),
    "servicePrincipal": frozenset({"displayName", "description"}),
    "directoryObject": frozenset({"displayName", "description", "mail", "userPrincipalName"}),
}

# The OData type name Graph puts in "Could not find a property named ... on type ..." messages.
QUALIFIED = {name: f"microsoft.graph.{name}" for name in PROPERTIES}
