// The portal's API reference: Swagger UI over the merged /openapi.json, with "try it" and
// sign-in by authorization code + PKCE for the public demo client. Everything it loads comes
// from this origin; the validator badge (which calls an outside site) is switched off.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  displayOperationId: true,
  persistAuthorization: false,
  oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect',
});
window.ui.initOAuth({
  clientId: 'portal-web',
  usePkceWithAuthorizationCodeGrant: true,
  scopes: 'openid profile',
});
