// Classroom Recorder in Azure: an App Service (Linux, Node 20) that runs the app (bot, webhook,
// tab and its API), and an Azure Bot (single tenant) pointing at it. MongoDB is not created
// here: pass the connection string of Atlas, Azure Cosmos DB for MongoDB or a self-hosted one.

@description('Suffix for resource names, e.g. dev.')
param resourceBaseName string

@description('App Service plan SKU (B1 for a pilot; P1v3 for a school).')
param webAppSku string = 'B1'

@description('Entra app (client) id: Graph, tab SSO and the bot identity.')
param aadAppClientId string

@secure()
@description('Client secret of the Entra app.')
param aadAppClientSecret string

@description('Directory (tenant) id.')
param aadAppTenantId string

@secure()
@description('MongoDB connection string (Atlas, Azure Cosmos DB for MongoDB, or self-hosted).')
param mongodbUri string

@secure()
@description('Signs download and play links; the same on every instance (32+ characters).')
param downloadLinkKey string

@description('Entra group whose members may schedule anywhere (optional).')
param instructorGroupId string = ''

@description('Entra group whose members may read reports (optional).')
param adminGroupId string = ''

@description('Recording-consent wording (optional; a default notice is used when empty).')
param consentNoticeText string = ''

param location string = resourceGroup().location

var siteName = 'classroom-recorder-${resourceBaseName}'

resource plan 'Microsoft.Web/serverfarms@2022-09-01' = {
  name: '${siteName}-plan'
  location: location
  kind: 'linux'
  sku: { name: webAppSku }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2022-09-01' = {
  name: siteName
  location: location
  kind: 'app,linux'
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      appCommandLine: 'npm run start:prod'
      appSettings: [
        { name: 'PORT', value: '8080' }
        { name: 'WEBSITES_PORT', value: '8080' }
        { name: 'MONGODB_URI', value: mongodbUri }
        { name: 'AAD_APP_TENANT_ID', value: aadAppTenantId }
        { name: 'AAD_APP_CLIENT_ID', value: aadAppClientId }
        { name: 'SECRET_AAD_APP_CLIENT_SECRET', value: aadAppClientSecret }
        { name: 'BOT_ID', value: aadAppClientId }
        { name: 'SECRET_BOT_PASSWORD', value: aadAppClientSecret }
        { name: 'PUBLIC_BASE_URL', value: 'https://${siteName}.azurewebsites.net' }
        { name: 'AAD_APP_ID_URI', value: 'api://${siteName}.azurewebsites.net/${aadAppClientId}' }
        { name: 'SECRET_DOWNLOAD_LINK_KEY', value: downloadLinkKey }
        { name: 'INSTRUCTOR_GROUP_ID', value: instructorGroupId }
        { name: 'ADMIN_GROUP_ID', value: adminGroupId }
        { name: 'CONSENT_NOTICE_TEXT', value: consentNoticeText }
        { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: 'false' }
      ]
    }
  }
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: siteName
  location: 'global'
  kind: 'azurebot'
  sku: { name: 'F0' }
  properties: {
    displayName: 'Classroom Recorder'
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: aadAppClientId
    msaAppType: 'SingleTenant'
    msaAppTenantId: aadAppTenantId
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: { channelName: 'MsTeamsChannel' }
}

output APP_SERVICE_RESOURCE_ID string = site.id
output BOT_DOMAIN string = site.properties.defaultHostName
output TAB_ENDPOINT string = 'https://${site.properties.defaultHostName}'
output BOT_ID string = aadAppClientId
