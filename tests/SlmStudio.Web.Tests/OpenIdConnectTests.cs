using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;

namespace SlmStudio.Web.Tests;

/// <summary>
/// Issue 13: optional sign-in with the company's identity provider. The provider here is a small one in the test
/// process (discovery document, keys, authorisation and token endpoints, an RSA-signed ID token), so the portal's real
/// OpenID Connect handler runs the whole code flow with PKCE over HTTP.
/// </summary>
public sealed class OpenIdConnectTests
{
    private const string ClientId = "slm-studio", ClientSecret = "test-client-secret";

    /// <summary>The identity provider: it signs in whoever <see cref="NextPerson"/> says, without asking.</summary>
    private sealed class FakeIdentityProvider : IAsyncDisposable
    {
        private readonly RSA _rsa = RSA.Create(2048);
        private readonly ConcurrentDictionary<string, (string Nonce, string Challenge, Dictionary<string, object> Claims)> _codes = new();
        private WebApplication _app = null!;
        public string Authority => _app.Urls.First().TrimEnd('/');
        public Dictionary<string, object> NextPerson { get; set; } = [];
        public int TokensIssued;

        public static async Task<FakeIdentityProvider> StartAsync()
        {
            var provider = new FakeIdentityProvider();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var key = new RsaSecurityKey(provider._rsa) { KeyId = "test-key" };
            app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = provider.Authority,
                ["authorization_endpoint"] = provider.Authority + "/authorize",
                ["token_endpoint"] = provider.Authority + "/token",
                ["jwks_uri"] = provider.Authority + "/jwks",
                ["response_types_supported"] = new[] { "code" },
                ["subject_types_supported"] = new[] { "public" },
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                ["code_challenge_methods_supported"] = new[] { "S256" },
            }));
            app.MapGet("/jwks", () =>
            {
                var p = provider._rsa.ExportParameters(includePrivateParameters: false);
                return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = key.KeyId, n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent) } } });
            });
            app.MapGet("/authorize", (HttpRequest request) =>
            {
                var q = request.Query;
                if (q["client_id"] != ClientId || q["response_type"] != "code" || q["code_challenge_method"] != "S256") return Results.BadRequest("unexpected authorisation request");
                var code = Guid.NewGuid().ToString("N");
                provider._codes[code] = (q["nonce"].ToString(), q["code_challenge"].ToString(), new Dictionary<string, object>(provider.NextPerson));
                return Results.Redirect($"{q["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
            });
            app.MapPost("/token", async (HttpRequest request) =>
            {
                var form = await request.ReadFormAsync();
                if (form["client_id"] != ClientId || form["client_secret"] != ClientSecret) return Results.Json(new { error = "invalid_client" }, statusCode: 401);
                if (!provider._codes.TryRemove(form["code"].ToString(), out var grant)) return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
                var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString())));
                if (challenge != grant.Challenge) return Results.Json(new { error = "invalid_grant", error_description = "PKCE" }, statusCode: 400);
                var claims = new Dictionary<string, object>(grant.Claims) { ["nonce"] = grant.Nonce };
                var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
                {
                    Issuer = provider.Authority,
                    Audience = ClientId,
                    IssuedAt = DateTime.UtcNow,
                    NotBefore = DateTime.UtcNow.AddMinutes(-1),
                    Expires = DateTime.UtcNow.AddMinutes(5),
                    Claims = claims,
                    SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
                });
                Interlocked.Increment(ref provider.TokensIssued);
                return Results.Json(new { id_token = idToken, access_token = Guid.NewGuid().ToString("N"), token_type = "Bearer", expires_in = 300 });
            });
            await app.StartAsync();
            provider._app = app;
            return provider;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.DisposeAsync();
            _rsa.Dispose();
        }
    }

    private static Dictionary<string, string?> Settings(string authority) => new()
    {
        ["Studio:OpenIdConnect:Authority"] = authority,
        ["Studio:OpenIdConnect:ClientId"] = ClientId,
        ["Studio:OpenIdConnect:ClientSecret"] = ClientSecret,
        ["Studio:OpenIdConnect:DisplayName"] = "Contoso account",
        ["Studio:OpenIdConnect:RoleClaim"] = "groups",
        ["Studio:OpenIdConnect:RoleMapping:slm-builders"] = "Builder",
        ["Studio:OpenIdConnect:RoleMapping:slm-admins"] = "Administrator",
    };

    /// <summary>Clicks "Sign in with …" on the sign-in page and follows the redirects through the provider and back, as
    /// a browser does (the last step is the page's meta refresh); returns the final answer.</summary>
    private static async Task<HttpResponseMessage> SignInWithProviderAsync(HttpClient http, string returnUrl)
    {
        var login = await http.GetStringAsync("/account/login?returnUrl=" + Uri.EscapeDataString(returnUrl));
        Assert.Contains("Sign in with Contoso account", login);
        var token = System.Text.RegularExpressions.Regex.Match(login, "name=\"(__RequestVerificationToken[^\"]*)\" value=\"([^\"]+)\"");
        var response = await http.PostAsync("/account/external", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [token.Groups[1].Value] = WebUtility.HtmlDecode(token.Groups[2].Value),
            ["returnUrl"] = returnUrl,
        }));
        var at = new Uri(http.BaseAddress!, "/account/external");
        for (var hops = 0; hops < 8; hops++)
        {
            Uri? next = null;
            if (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther)
                next = new Uri(at, response.Headers.Location!);
            else if (response.StatusCode == HttpStatusCode.OK && System.Text.RegularExpressions.Regex.Match(await response.Content.ReadAsStringAsync(), "http-equiv=\"refresh\" content=\"0;url=([^\"]+)\"") is { Success: true } refresh)
                next = new Uri(at, WebUtility.HtmlDecode(refresh.Groups[1].Value));
            if (next is null) return response;
            at = next;
            response = await http.GetAsync(next);
        }
        throw new InvalidOperationException("Too many redirects");
    }

    [Fact]
    public async Task A_person_from_the_identity_provider_gets_a_local_account_on_first_sign_in_with_the_mapped_role()
    {
        await using var provider = await FakeIdentityProvider.StartAsync();
        await using var host = await StudioTestHost.StartAsync(Settings(provider.Authority), web: true);
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);

        // Not mapped: a Viewer, who may see the models page but not start a project.
        provider.NextPerson = new() { ["sub"] = "staff-1", ["email"] = "ann@contoso.example", ["name"] = "Ann" };
        using (var ann = await host.ClientAsync())
        {
            var landed = await SignInWithProviderAsync(ann, "/models");
            Assert.Equal(HttpStatusCode.OK, landed.StatusCode);
            Assert.Equal("/models", landed.RequestMessage!.RequestUri!.AbsolutePath);
            Assert.Equal(HttpStatusCode.Redirect, (await ann.GetAsync("/projects/new")).StatusCode);
        }
        // Mapped by the "groups" claim: a Builder.
        provider.NextPerson = new() { ["sub"] = "staff-2", ["email"] = "bob@contoso.example", ["groups"] = new[] { "everyone", "slm-builders" } };
        using (var bob = await host.ClientAsync())
        {
            Assert.Equal(HttpStatusCode.OK, (await SignInWithProviderAsync(bob, "/")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await bob.GetAsync("/projects/new")).StatusCode);
        }
        // Ann again, now an administrator at the provider: the same account (found by her provider id), promoted.
        provider.NextPerson = new() { ["sub"] = "staff-1", ["email"] = "ann.renamed@contoso.example", ["groups"] = "slm-admins" };
        using (var ann = await host.ClientAsync())
        {
            Assert.Equal(HttpStatusCode.OK, (await SignInWithProviderAsync(ann, "/")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await ann.GetAsync("/admin/audit")).StatusCode);
        }
        Assert.Equal(3, provider.TokensIssued);

        await using var scope = host.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<StudioUser>>();
        var annUser = await users.FindByEmailAsync("ann@contoso.example");
        Assert.NotNull(annUser);
        Assert.Null(annUser.PasswordHash); // no password: she signs in only through the provider
        Assert.Equal([StudioRoles.Administrator], await users.GetRolesAsync(annUser));
        Assert.Equal([StudioRoles.Builder], await users.GetRolesAsync((await users.FindByEmailAsync("bob@contoso.example"))!));
        Assert.Null(await users.FindByEmailAsync("ann.renamed@contoso.example"));

        await using var db = await host.DbAsync();
        var audit = await db.AuditLog.OrderBy(e => e.Id).Select(e => new { e.Action, e.UserName, e.Detail }).ToListAsync();
        Assert.Contains(audit, e => e.Action == AuditActions.PersonAdded && e.Detail.StartsWith("ann@contoso.example as Viewer", StringComparison.Ordinal));
        Assert.Contains(audit, e => e.Action == AuditActions.PersonAdded && e.Detail.StartsWith("bob@contoso.example as Builder", StringComparison.Ordinal));
        Assert.Equal(3, audit.Count(e => e.Action == AuditActions.SignIn && e.Detail.StartsWith("with Contoso account", StringComparison.Ordinal)));
        Assert.Contains(audit, e => e.Action == AuditActions.RoleChanged && e.Detail.StartsWith("ann@contoso.example is now Administrator", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_an_e_mail_address_from_the_provider_no_account_is_made_and_the_person_is_told_why()
    {
        await using var provider = await FakeIdentityProvider.StartAsync();
        await using var host = await StudioTestHost.StartAsync(Settings(provider.Authority), web: true);
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        provider.NextPerson = new() { ["sub"] = "robot-7" };
        using var http = await host.ClientAsync();
        var answer = await SignInWithProviderAsync(http, "/");
        Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        Assert.Contains("did not tell SLM Studio your e-mail address", WebUtility.HtmlDecode(await answer.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.Redirect, (await http.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task Off_without_an_authority_the_sign_in_page_has_no_provider_button_and_no_scheme_is_registered()
    {
        await using var host = await StudioTestHost.StartAsync(web: true);
        await host.AddUserAsync("admin@example.com", StudioRoles.Administrator);
        Assert.Null(await host.Get<IAuthenticationSchemeProvider>().GetSchemeAsync(StudioOpenIdConnectOptions.Scheme));
        using var http = await host.ClientAsync();
        Assert.DoesNotContain("Sign in with", await http.GetStringAsync("/account/login"));
    }

    [Theory]
    [InlineData("login.contoso.example", "Studio:OpenIdConnect:Authority must be the https address")]
    [InlineData("http://login.contoso.example/realms/staff", "Studio:OpenIdConnect:Authority must be the https address")]
    public async Task A_bad_authority_stops_the_portal_at_start_with_the_setting_named(string authority, string expected)
    {
        var root = Path.Combine(Path.GetTempPath(), "slm-web-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
            {
                await using var host = await StudioTestHost.StartAsync(Settings(authority), root, web: true);
            });
            Assert.Contains(expected, error.Message);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void Settings_name_every_problem_and_map_the_most_powerful_role()
    {
        var options = new StudioOpenIdConnectOptions
        {
            Authority = "https://login.contoso.example",
            ClientId = "",
            RoleMapping = new() { ["staff"] = "Viewer", ["slm-admins"] = "Admin" },
        };
        var problems = options.Problems();
        Assert.Contains(problems, p => p.Contains("ClientId is empty"));
        Assert.Contains(problems, p => p.Contains("maps 'slm-admins' to 'Admin'"));
        Assert.DoesNotContain(problems, p => p.Contains("Authority"));

        options.RoleMapping = new() { ["staff"] = "Viewer", ["SLM-Builders"] = "Builder" };
        options.RoleClaim = "groups";
        var person = new ClaimsPrincipal(new ClaimsIdentity([new Claim("groups", "staff"), new Claim("groups", "slm-builders")], "test"));
        Assert.Equal(StudioRoles.Builder, options.RoleFor(person));
        Assert.Null(options.RoleFor(new ClaimsPrincipal(new ClaimsIdentity([new Claim("groups", "cleaners")], "test"))));
        Assert.Empty(new StudioOpenIdConnectOptions().Problems()); // off: nothing to check
    }
}
