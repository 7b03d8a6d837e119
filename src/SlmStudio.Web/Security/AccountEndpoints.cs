using System.Net;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Security;

/// <summary>
/// Sign-in, sign-out and first-run set-up as plain server-rendered forms: the cookie must be written by an HTTP
/// response, which the interactive pages (a live connection) cannot do.
/// </summary>
public static class AccountEndpoints
{
    public static void MapAccountEndpoints(this WebApplication app)
    {
        var account = app.MapGroup("/account").AllowAnonymous();

        account.MapGet("/login", async (HttpContext http, FirstRunSetup setup, UserManager<StudioUser> users, IOptions<StudioOpenIdConnectOptions> oidc, string? returnUrl, string? external) =>
            await setup.IsPendingAsync(users) ? Results.Redirect("/account/setup") : Page(http, "Sign in",
                LoginForm(returnUrl, external == "failed" ? $"Sign-in with {oidc.Value.DisplayName} did not complete. Try again, or sign in with your e-mail address and password." : null)
                + OpenIdConnectSignIn.Button(oidc.Value, returnUrl)));
        OpenIdConnectSignIn.MapExternalSignIn(account, Page, IsLocal);

        account.MapPost("/login", async (HttpContext http, SignInManager<StudioUser> signIn, IAntiforgery antiforgery, AuditLog audit) =>
        {
            if (!await antiforgery.IsRequestValidAsync(http)) return Results.BadRequest("The form expired. Reload the page and try again.");
            var form = await http.Request.ReadFormAsync();
            string email = form["email"].ToString(), password = form["password"].ToString(), returnUrl = form["returnUrl"].ToString();
            var result = await signIn.PasswordSignInAsync(email.Trim(), password, isPersistent: false, lockoutOnFailure: true);
            // The name typed is recorded for a failure too (it is who tried), never the password.
            var who = email.Trim().Length > 200 ? email.Trim()[..200] : email.Trim();
            var from = http.Connection.RemoteIpAddress?.ToString() ?? "unknown address";
            await audit.RecordAsync(result.Succeeded ? AuditActions.SignIn : AuditActions.SignInFailed,
                result.Succeeded ? $"from {from}" : $"from {from}{(result.IsLockedOut ? "; the account is locked" : "")}", user: who);
            if (result.Succeeded) return Results.LocalRedirect(IsLocal(returnUrl) ? returnUrl : "/");
            var message = result.IsLockedOut
                ? "Too many wrong passwords: this account is locked for a few minutes. Try again later or ask an administrator."
                : "The e-mail address or the password is not right.";
            return Page(http, "Sign in", LoginForm(returnUrl, message), HttpStatusCode.OK);
        });

        account.MapGet("/setup", async (HttpContext http, FirstRunSetup setup, UserManager<StudioUser> users) =>
            await setup.IsPendingAsync(users) ? Page(http, "Create the first administrator", SetupForm(null)) : Results.Redirect("/account/login"));

        account.MapPost("/setup", async (HttpContext http, FirstRunSetup setup, UserManager<StudioUser> users, SignInManager<StudioUser> signIn, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(http)) return Results.BadRequest("The form expired. Reload the page and try again.");
            var form = await http.Request.ReadFormAsync();
            string email = form["email"].ToString().Trim(), password = form["password"].ToString();
            if (email.Length == 0) return Page(http, "Create the first administrator", SetupForm(["Enter the administrator's e-mail address."]));
            var errors = await setup.CompleteAsync(users, form["code"].ToString(), email, password);
            if (errors.Count > 0) return Page(http, "Create the first administrator", SetupForm(errors));
            await signIn.SignInAsync((await users.FindByNameAsync(email))!, isPersistent: false);
            return Results.LocalRedirect("/");
        });

        account.MapGet("/logout", (HttpContext http) => Page(http, "Sign out", """
            <p>Sign out of SLM Studio on this browser?</p>
            <form method="post" action="/account/logout">{TOKEN}<button type="submit">Sign out</button></form>
            """));
        account.MapPost("/logout", async (HttpContext http, SignInManager<StudioUser> signIn, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(http)) return Results.BadRequest("The form expired. Reload the page and try again.");
            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/login");
        });

        account.MapGet("/denied", (HttpContext http) => Page(http, "No access",
            "<p>Your account does not have access to this page. Ask an administrator if you need it.</p><p><a href=\"/\">Back to your projects</a></p>", HttpStatusCode.Forbidden));
    }

    private static bool IsLocal(string url) => url.StartsWith('/') && !url.StartsWith("//") && !url.StartsWith("/\\");

    private static string LoginForm(string? returnUrl, string? message) => $"""
        {(message is null ? "" : $"<p class=\"problem\" role=\"alert\">{Enc(message)}</p>")}
        <form method="post" action="/account/login">{"{TOKEN}"}
          <input type="hidden" name="returnUrl" value="{Enc(returnUrl ?? "/")}" />
          <label>E-mail address<input name="email" type="email" autocomplete="username" required autofocus /></label>
          <label>Password<input name="password" type="password" autocomplete="current-password" required /></label>
          <button type="submit">Sign in</button>
        </form>
        """;

    private static string SetupForm(IEnumerable<string>? errors) => $"""
        <p>SLM Studio has no administrator yet. The portal printed a one-time set-up code in its log when it started
        (the line that says "one-time set-up code"). Enter it with the e-mail address and password of the first administrator.</p>
        {(errors is null ? "" : string.Join("", errors.Select(e => $"<p class=\"problem\" role=\"alert\">{Enc(e)}</p>")))}
        <form method="post" action="/account/setup">{"{TOKEN}"}
          <label>Set-up code<input name="code" required autocomplete="off" /></label>
          <label>E-mail address<input name="email" type="email" autocomplete="username" required /></label>
          <label>Password (at least 12 characters)<input name="password" type="password" autocomplete="new-password" required /></label>
          <button type="submit">Create the administrator</button>
        </form>
        """;

    private static string Enc(string s) => WebUtility.HtmlEncode(s);

    private static IResult Page(HttpContext http, string title, string body, HttpStatusCode status = HttpStatusCode.OK)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        var hidden = $"<input type=\"hidden\" name=\"{Enc(tokens.FormFieldName)}\" value=\"{Enc(tokens.RequestToken!)}\" />";
        var html = $$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1.0" />
            <title>{{Enc(title)}} — SLM Studio</title>
            <style>
              body { font-family: Roboto, Arial, sans-serif; background: #f5f5f5; margin: 0; }
              main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 6px; box-shadow: 0 1px 4px #0002; }
              label { display: block; margin: .8rem 0; } input { display: block; width: 100%; padding: .5rem; margin-top: .3rem; box-sizing: border-box; }
              button { margin-top: 1rem; padding: .6rem 1.2rem; background: #594ae2; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
              .problem { color: #b00020; }
            </style></head>
            <body><main><h1>{{Enc(title)}}</h1>{{body.Replace("{TOKEN}", hidden)}}</main></body></html>
            """;
        return Results.Content(html, "text/html; charset=utf-8", statusCode: (int)status);
    }
}
