using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Api;

/// <summary>One of the signed-in person's keys, without its secret.</summary>
public sealed record ApiKeyRow(int Id, string Name, string Prefix, string Projects, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt);

/// <summary>
/// Keys for other programs: created and revoked by their owner, shown once, stored as a SHA-256 hash (the secret is
/// 256 random bits, so a slow password hash adds nothing), limited to chosen projects and optionally to a date.
/// </summary>
public sealed class ApiKeyService(IDbContextFactory<StudioDbContext> dbFactory, TimeProvider clock, AuditLog audit)
{
    public const string ProjectsClaim = "slm:key-projects";
    public const string KeyIdClaim = "slm:key-id";

    /// <summary>Creates a key over projects the person can see; returns the full key, which is never shown again.</summary>
    public async Task<string> CreateAsync(string name, IReadOnlyCollection<int> projectIds, DateTimeOffset? expiresAt)
    {
        var userId = StudioUserContext.UserId ?? throw new UserFacingException("Sign in to create a key.");
        if (string.IsNullOrWhiteSpace(name)) throw new UserFacingException("Give the key a name that says which program uses it.");
        if (projectIds.Count == 0) throw new UserFacingException("Choose at least one project the key may use.");
        await using var db = await dbFactory.CreateDbContextAsync();
        var visible = await db.VisibleProjects().Where(p => projectIds.Contains(p.Id)).Select(p => p.Id).ToListAsync();
        if (visible.Count != projectIds.Count) throw new UserFacingException("A key can only reach projects you have access to.");
        var prefix = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var key = $"slm_{prefix}_{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        db.ApiKeys.Add(new ApiKey
        {
            UserId = userId, Name = name.Trim(), Prefix = prefix, SecretHash = Hash(key),
            ProjectIds = string.Join(',', visible.Order()), CreatedAt = clock.GetUtcNow(), ExpiresAt = expiresAt,
        });
        await db.SaveChangesAsync();
        await audit.RecordAsync(AuditActions.KeyCreated, $"'{name.Trim()}' ({prefix}) for projects {string.Join(", ", visible.Order())}{(expiresAt is { } e ? $", expires {e:yyyy-MM-dd}" : "")}");
        return key;
    }

    public async Task<List<ApiKeyRow>> MineAsync()
    {
        var userId = StudioUserContext.UserId;
        await using var db = await dbFactory.CreateDbContextAsync();
        var names = await db.Projects.ToDictionaryAsync(p => p.Id, p => p.Name);
        var keys = await db.ApiKeys.Where(k => k.UserId == userId).OrderByDescending(k => k.Id).ToListAsync();
        return keys.Select(k => new ApiKeyRow(k.Id, k.Name, k.Prefix, string.Join(", ", k.ProjectIdList().Select(id => names.GetValueOrDefault(id, "(deleted)"))),
            k.CreatedAt, k.ExpiresAt, k.RevokedAt, k.LastUsedAt)).ToList();
    }

    public async Task RevokeAsync(int keyId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == keyId && (k.UserId == StudioUserContext.UserId || StudioUserContext.IsAdministrator))
            ?? throw new UserFacingException("That key does not exist or is not yours.");
        key.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync();
        await audit.RecordAsync(AuditActions.KeyRevoked, $"'{key.Name}' ({key.Prefix})");
    }

    /// <summary>The key's row when it is valid now (exists, matches, not revoked, not expired); null otherwise.</summary>
    public async Task<ApiKey?> ValidateAsync(string presented)
    {
        var parts = presented.Split('_');
        if (parts.Length != 3 || parts[0] != "slm") return null;
        await using var db = await dbFactory.CreateDbContextAsync();
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Prefix == parts[1]);
        if (key is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(presented)), Encoding.ASCII.GetBytes(key.SecretHash))) return null;
        var now = clock.GetUtcNow();
        if (key.RevokedAt is not null || key.ExpiresAt <= now) return null;
        key.LastUsedAt = now;
        await db.SaveChangesAsync();
        return key;
    }

    private static string Hash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '-');
}

/// <summary><c>Authorization: Bearer slm_…</c>: the key's owner, with their roles, limited to the key's projects.</summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyService keys, UserManager<StudioUser> users, IUserClaimsPrincipalFactory<StudioUser> principals)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.NoResult();
        var key = await keys.ValidateAsync(header["Bearer ".Length..].Trim());
        if (key is null) return AuthenticateResult.Fail("The API key is not valid, was revoked or has expired.");
        var user = await users.FindByIdAsync(key.UserId);
        if (user is null || await users.IsLockedOutAsync(user)) return AuthenticateResult.Fail("The key's owner cannot sign in.");
        var principal = await principals.CreateAsync(user);
        ((ClaimsIdentity)principal.Identity!).AddClaims([new Claim(ApiKeyService.ProjectsClaim, key.ProjectIds), new Claim(ApiKeyService.KeyIdClaim, key.Id.ToString())]);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(principal.Claims, SchemeName)), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        await Response.WriteAsJsonAsync(OpenAiError.Body("Send a valid API key as 'Authorization: Bearer <key>'. Create one under API keys in the portal; revoked and expired keys are refused.", "invalid_request_error", "invalid_api_key"));
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Response.WriteAsJsonAsync(OpenAiError.Body("This key may not do that.", "invalid_request_error", "forbidden"));
    }
}

/// <summary>Errors in the shape OpenAI's clients read: {"error": {"message", "type", "param", "code"}}.</summary>
public static class OpenAiError
{
    public static object Body(string message, string type, string? code = null, string? param = null) =>
        new { error = new { message, type, param, code } };

    public static IResult Result(int status, string message, string type = "invalid_request_error", string? code = null, string? param = null) =>
        Results.Json(Body(message, type, code, param), statusCode: status);
}
