using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Security;

/// <summary>
/// Until the first administrator exists the portal accepts one set-up code, printed in its log at start, on the
/// /account/setup page. Headless deployments set Studio:FirstAdmin:Email and Studio:FirstAdmin:Password instead.
/// There is no default password anywhere.
/// </summary>
public sealed class FirstRunSetup(ILogger<FirstRunSetup> log)
{
    private readonly Lock _gate = new();
    private string? _code;

    public bool Pending { get { lock (_gate) return _code is not null; } }

    /// <summary>Whether the set-up page is still needed: someone may have created a person since start (another portal
    /// process on the same database, or an administrator tool), which ends set-up for good.</summary>
    public async Task<bool> IsPendingAsync(UserManager<StudioUser> users)
    {
        if (!Pending) return false;
        if (!await users.Users.AnyAsync()) return true;
        lock (_gate) _code = null;
        return false;
    }

    /// <summary>Roles exist, and either the configured first administrator is created or a set-up code is printed.</summary>
    public async Task RunAsync(IServiceProvider services, IConfiguration configuration)
    {
        await using var scope = services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in StudioRoles.All)
            if (!await roles.RoleExistsAsync(role)) await roles.CreateAsync(new IdentityRole(role));

        var users = scope.ServiceProvider.GetRequiredService<UserManager<StudioUser>>();
        if (users.Users.Any()) return;
        var email = configuration["Studio:FirstAdmin:Email"];
        var password = configuration["Studio:FirstAdmin:Password"];
        if (!string.IsNullOrWhiteSpace(email) && !string.IsNullOrEmpty(password))
        {
            var errors = await CreateUserAsync(users, email, password, StudioRoles.Administrator);
            if (errors.Count > 0) throw new InvalidOperationException("The first administrator from Studio:FirstAdmin could not be created: " + string.Join(" ", errors));
            log.LogInformation("Created the first administrator {Email} from the configuration.", email);
            return;
        }
        var code = Convert.ToHexString(RandomNumberGenerator.GetBytes(6));
        lock (_gate) _code = code;
        log.LogWarning("No administrator exists yet. Open /account/setup in the portal and enter this one-time set-up code: {SetupCode}", code);
    }

    /// <summary>Creates the first administrator when the code matches; the code works once.</summary>
    public async Task<IReadOnlyList<string>> CompleteAsync(UserManager<StudioUser> users, string code, string email, string password)
    {
        lock (_gate)
        {
            if (_code is null) return ["The portal already has an administrator. Sign in instead."];
            if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(code.Trim().ToUpperInvariant()), System.Text.Encoding.UTF8.GetBytes(_code)))
                return ["The set-up code is not right. Copy it from the portal's log (the line that says 'one-time set-up code')."];
        }
        var errors = await CreateUserAsync(users, email, password, StudioRoles.Administrator);
        if (errors.Count == 0) lock (_gate) _code = null;
        return errors;
    }

    public static async Task<IReadOnlyList<string>> CreateUserAsync(UserManager<StudioUser> users, string email, string password, string role)
    {
        var user = new StudioUser { UserName = email.Trim(), Email = email.Trim(), DisplayName = email.Trim(), EmailConfirmed = true };
        var created = await users.CreateAsync(user, password);
        if (!created.Succeeded) return created.Errors.Select(e => e.Description).ToList();
        var added = await users.AddToRoleAsync(user, role);
        return added.Succeeded ? [] : added.Errors.Select(e => e.Description).ToList();
    }
}
