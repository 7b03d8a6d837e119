using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Security;

/// <summary>
/// Sign-in with the company's identity provider (OpenID Connect, authorisation code flow with PKCE). Section
/// "Studio:OpenIdConnect"; off while <see cref="Authority"/> is empty. People signing in this way for the first time get
/// a local account (no password) with the role <see cref="RoleMapping"/> gives them, or Viewer.
/// </summary>
public sealed class StudioOpenIdConnectOptions
{
    public const string Section = "Studio:OpenIdConnect";
    public const string Scheme = "oidc";

    /// <summary>The provider's issuer address, such as https://login.example.com/realms/staff; its discovery document is
    /// read from <c>{Authority}/.well-known/openid-configuration</c>.</summary>
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    /// <summary>The button says "Sign in with {DisplayName}".</summary>
    public string DisplayName { get; set; } = "your company account";
    /// <summary>The claim of the provider's ID token that carries groups or roles.</summary>
    public string RoleClaim { get; set; } = "roles";
    /// <summary>Claim value → Administrator, Builder or Viewer; with several matches the most powerful role wins. The
    /// provider's answer is applied at every sign-in; people it does not map keep the role they have here.</summary>
    public Dictionary<string, string> RoleMapping { get; set; } = [];

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);

    /// <summary>Plain http only to a provider on this machine (tests, trials); everything else needs https.</summary>
    public bool AllowsPlainHttp => Uri.TryCreate(Authority, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback;

    /// <summary>What is wrong with the settings, in words an administrator can act on; empty when they are fine.</summary>
    public List<string> Problems()
    {
        var problems = new List<string>();
        if (!Enabled) return problems;
        if (!Uri.TryCreate(Authority, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && !AllowsPlainHttp))
            problems.Add($"{Section}:Authority must be the https address of your identity provider (its issuer, such as https://login.example.com/realms/staff); '{Authority}' is not. Leave it empty to turn sign-in with the identity provider off.");
        if (string.IsNullOrWhiteSpace(ClientId))
            problems.Add($"{Section}:ClientId is empty: enter the client id your identity provider gave SLM Studio.");
        if (string.IsNullOrWhiteSpace(DisplayName))
            problems.Add($"{Section}:DisplayName is empty: enter the name people know the provider by, such as \"Contoso account\".");
        foreach (var (value, role) in RoleMapping)
            if (!StudioRoles.All.Contains(role, StringComparer.Ordinal))
                problems.Add($"{Section}:RoleMapping maps '{value}' to '{role}', which is not a role here: use Administrator, Builder or Viewer.");
        return problems;
    }

    /// <summary>The role the provider's claims give, or null when none of them is mapped.</summary>
    public string? RoleFor(ClaimsPrincipal principal)
    {
        var mapped = principal.FindAll(RoleClaim)
            .Select(c => RoleMapping.FirstOrDefault(m => string.Equals(m.Key, c.Value, StringComparison.OrdinalIgnoreCase)).Value)
            .Where(r => r is not null).ToHashSet();
        return StudioRoles.All.FirstOrDefault(mapped.Contains); // All is ordered from the most powerful down
    }

    private sealed class Validator : IValidateOptions<StudioOpenIdConnectOptions>
    {
        public ValidateOptionsResult Validate(string? name, StudioOpenIdConnectOptions options) =>
            options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }

    /// <summary>Binds and checks the section at start; registers the OpenID Connect handler only when it is on.</summary>
    internal static void Register(WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<StudioOpenIdConnectOptions>().BindConfiguration(Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<StudioOpenIdConnectOptions>, Validator>();
        var settings = builder.Configuration.GetSection(Section).Get<StudioOpenIdConnectOptions>() ?? new StudioOpenIdConnectOptions();
        if (!settings.Enabled || settings.Problems().Count > 0) return; // a bad section stops the start through the validator
        builder.Services.AddAuthentication().AddOpenIdConnect(Scheme, settings.DisplayName, o =>
        {
            o.SignInScheme = IdentityConstants.ExternalScheme;
            o.Authority = settings.Authority;
            o.ClientId = settings.ClientId;
            o.ClientSecret = string.IsNullOrWhiteSpace(settings.ClientSecret) ? null : settings.ClientSecret;
            o.RequireHttpsMetadata = !settings.AllowsPlainHttp;
            o.ResponseType = OpenIdConnectResponseType.Code;
            // A redirect back (not a cross-site form post) lets the correlation cookies be SameSite=Lax.
            o.ResponseMode = OpenIdConnectResponseMode.Query;
            o.UsePkce = true;
            o.CallbackPath = "/signin-oidc";
            o.Scope.Add("email");
            // Claim names as the provider sends them ("email", "roles"), so RoleClaim means what the provider calls it.
            o.MapInboundClaims = false;
            o.SaveTokens = false;
            o.CorrelationCookie.SameSite = SameSiteMode.Lax;
            o.NonceCookie.SameSite = SameSiteMode.Lax;
            o.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            // Identity links the account by the NameIdentifier claim, which unmapped claims name "sub".
            o.Events.OnTokenValidated = ctx =>
            {
                if (ctx.Principal?.Identity is ClaimsIdentity identity && identity.FindFirst(ClaimTypes.NameIdentifier) is null && identity.FindFirst("sub") is { } subject)
                    identity.AddClaim(new Claim(ClaimTypes.NameIdentifier, subject.Value));
                return Task.CompletedTask;
            };
            o.Events.OnRemoteFailure = ctx =>
            {
                ctx.HandleResponse();
                ctx.Response.Redirect("/account/login?external=failed");
                return Task.CompletedTask;
            };
        });
    }
}

/// <summary>The sign-in page's "Sign in with …" button and what happens when the provider sends the person back.</summary>
public static class OpenIdConnectSignIn
{
    public static void AddStudioOpenIdConnect(this WebApplicationBuilder builder) => StudioOpenIdConnectOptions.Register(builder);

    /// <summary>The button for the sign-in page (a form, so that the start of the sign-in carries the antiforgery token);
    /// empty when sign-in with the provider is off.</summary>
    internal static string Button(StudioOpenIdConnectOptions options, string? returnUrl) => !options.Enabled ? "" : $"""
        <form method="post" action="/account/external" class="external">{"{TOKEN}"}
          <input type="hidden" name="returnUrl" value="{WebUtility.HtmlEncode(returnUrl ?? "/")}" />
          <button type="submit" id="external-sign-in">Sign in with {WebUtility.HtmlEncode(options.DisplayName)}</button>
        </form>
        """;

    internal static void MapExternalSignIn(RouteGroupBuilder account, Func<HttpContext, string, string, HttpStatusCode, IResult> page, Func<string, bool> isLocal)
    {
        account.MapPost("/external", async (HttpContext http, SignInManager<StudioUser> signIn, IAntiforgery antiforgery, IOptions<StudioOpenIdConnectOptions> options) =>
        {
            if (!options.Value.Enabled) return Results.NotFound();
            if (!await antiforgery.IsRequestValidAsync(http)) return Results.BadRequest("The form expired. Reload the page and try again.");
            var returnUrl = (await http.Request.ReadFormAsync())["returnUrl"].ToString();
            var properties = signIn.ConfigureExternalAuthenticationProperties(StudioOpenIdConnectOptions.Scheme,
                "/account/external-callback?returnUrl=" + Uri.EscapeDataString(isLocal(returnUrl) ? returnUrl : "/"));
            return Results.Challenge(properties, [StudioOpenIdConnectOptions.Scheme]);
        });

        account.MapGet("/external-callback", async (HttpContext http, SignInManager<StudioUser> signIn, UserManager<StudioUser> users,
            IOptions<StudioOpenIdConnectOptions> options, AuditLog audit, string? returnUrl) =>
        {
            var settings = options.Value;
            if (!settings.Enabled) return Results.NotFound();
            var info = await signIn.GetExternalLoginInfoAsync();
            if (info is null) return Results.Redirect("/account/login?external=failed");
            await http.SignOutAsync(IdentityConstants.ExternalScheme);
            var from = http.Connection.RemoteIpAddress?.ToString() ?? "unknown address";

            var (user, problem) = await FindOrCreateAsync(users, info, settings, audit);
            if (user is null)
            {
                await audit.RecordAsync(AuditActions.SignInFailed, $"with {settings.DisplayName} from {from}: {problem}", user: info.Principal.FindFirstValue("email") ?? info.ProviderKey);
                return page(http, "Sign in", $"<p class=\"problem\" role=\"alert\">{WebUtility.HtmlEncode(problem!)}</p><p><a href=\"/account/login\">Back to sign-in</a></p>", HttpStatusCode.Forbidden);
            }
            await signIn.SignInAsync(user, isPersistent: false, authenticationMethod: StudioOpenIdConnectOptions.Scheme);
            await audit.RecordAsync(AuditActions.SignIn, $"with {settings.DisplayName} from {from}", user: user.UserName);
            // A page rather than a redirect: the provider started this chain of redirects on another site, and the
            // sign-in cookie (SameSite=Strict) only travels with a request this site starts.
            var target = WebUtility.HtmlEncode(returnUrl is { } r && isLocal(r) ? r : "/");
            return Results.Content($"""
                <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}"><title>Signed in — SLM Studio</title></head>
                <body style="font-family: sans-serif"><p>You are signed in. <a href="{target}">Continue to SLM Studio</a>.</p></body></html>
                """, "text/html; charset=utf-8");
        }).AllowAnonymous();
    }

    /// <summary>The local account of the person the provider vouches for: the one linked to their provider id, else the
    /// one with their e-mail address (then linked), else a new one. The provider's role mapping applies every time.</summary>
    private static async Task<(StudioUser? User, string? Problem)> FindOrCreateAsync(UserManager<StudioUser> users, ExternalLoginInfo info,
        StudioOpenIdConnectOptions settings, AuditLog audit)
    {
        var mappedRole = settings.RoleFor(info.Principal);
        var user = await users.FindByLoginAsync(info.LoginProvider, info.ProviderKey);
        if (user is null)
        {
            var email = (info.Principal.FindFirstValue("email") ?? info.Principal.FindFirstValue(ClaimTypes.Email) ?? info.Principal.FindFirstValue("preferred_username"))?.Trim();
            if (string.IsNullOrEmpty(email) || !email.Contains('@'))
                return (null, $"{settings.DisplayName} did not tell SLM Studio your e-mail address, so no account could be found or made for you. Ask your administrator to let the provider share the e-mail address (scope \"email\").");
            if (string.Equals(info.Principal.FindFirstValue("email_verified"), "false", StringComparison.OrdinalIgnoreCase))
                return (null, $"{settings.DisplayName} says your e-mail address {email} is not verified yet. Verify it there, then sign in again.");
            user = await users.FindByEmailAsync(email);
            if (user is null)
            {
                var name = info.Principal.FindFirstValue("name") ?? email;
                user = new StudioUser { UserName = email, Email = email, DisplayName = name, EmailConfirmed = true };
                var created = await users.CreateAsync(user);
                if (!created.Succeeded) return (null, "Your account could not be made: " + string.Join(" ", created.Errors.Select(e => e.Description)));
                var role = mappedRole ?? StudioRoles.Viewer;
                await users.AddToRoleAsync(user, role);
                await audit.RecordAsync(AuditActions.PersonAdded, $"{email} as {role} (first sign-in with {settings.DisplayName})", user: email);
            }
            var linked = await users.AddLoginAsync(user, new UserLoginInfo(info.LoginProvider, info.ProviderKey, settings.DisplayName));
            if (!linked.Succeeded) return (null, "Your account could not be linked: " + string.Join(" ", linked.Errors.Select(e => e.Description)));
        }
        if (await users.IsLockedOutAsync(user)) return (null, "This account is locked for a few minutes. Try again later or ask an administrator.");
        if (mappedRole is not null)
        {
            var current = await users.GetRolesAsync(user);
            if (current.Count != 1 || current[0] != mappedRole)
            {
                await users.RemoveFromRolesAsync(user, current);
                await users.AddToRoleAsync(user, mappedRole);
                await audit.RecordAsync(AuditActions.RoleChanged, $"{user.Email} is now {mappedRole} (from {settings.DisplayName})", user: user.UserName);
            }
        }
        return (user, null);
    }
}
