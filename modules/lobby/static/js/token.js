// Tokens are checked by the server only. The page reads the claims of its
// token just to show who it is and whether to offer the admin form.

/** The `token` query parameter, or ''. */
export function tokenFromURL() {
  return new URLSearchParams(window.location.search).get('token') ?? '';
}

/**
 * The payload of a JWT, decoded without checking its signature, or null
 * when token is not a JWT.
 * @returns {{sub?: string, roles?: string[], exp?: number} | null}
 */
export function readClaims(token) {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims !== null && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** Whether claims hold role in their `roles` array. */
export function hasRole(claims, role) {
  return Array.isArray(claims?.roles) && claims.roles.includes(role);
}
