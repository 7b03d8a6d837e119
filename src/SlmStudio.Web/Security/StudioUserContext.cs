using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Security;

/// <summary>
/// The person on whose behalf the current code runs, for the singleton services the pages and endpoints call. An HTTP
/// request sets it in middleware and a Blazor circuit sets it for every inbound activity (the documented way to reach
/// the circuit's user from services outside its scope). Background work says so with <see cref="UseSystem"/>. Unset
/// means nobody: no project is visible and nothing may be changed, so code that forgot to say who it runs for fails
/// closed instead of seeing everything.
/// </summary>
public static class StudioUserContext
{
    private static readonly AsyncLocal<ClaimsPrincipal?> CurrentUser = new();

    /// <summary>The portal itself (background jobs): sees and may change every project, and is recorded as "system".</summary>
    private static readonly ClaimsPrincipal SystemPrincipal = new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "system")], "system"));

    /// <summary>The person (maybe anonymous) of a web request or circuit, <see cref="SystemPrincipal"/> for background
    /// work, or null when nobody said who runs this code (then nothing is allowed).</summary>
    public static ClaimsPrincipal? Current => CurrentUser.Value;

    /// <summary>Runs what follows as the portal itself: for background jobs, which act for nobody in particular.</summary>
    public static IDisposable UseSystem() => Use(SystemPrincipal);

    /// <summary>Runs what follows as <paramref name="principal"/>; null means nobody (nothing is allowed).</summary>
    public static IDisposable Use(ClaimsPrincipal? principal)
    {
        var previous = CurrentUser.Value;
        CurrentUser.Value = principal;
        return new Restore(previous);
    }

    /// <summary>The signed-in person's name for "created by"; <paramref name="fallback"/> for the system.</summary>
    public static string NameOr(string fallback) => Current?.Identity?.Name ?? fallback;

    /// <summary>The name recorded as "created by": the signed-in person, or "system" for background work.</summary>
    public static string Name => NameOr("system");

    public static string? UserId => Current?.FindFirstValue(ClaimTypes.NameIdentifier);

    public static bool IsSystem => ReferenceEquals(Current, SystemPrincipal);
    public static bool IsAdministrator => IsSystem || Current?.IsInRole(StudioRoles.Administrator) == true;
    public static bool CanBuild => IsAdministrator || Current?.IsInRole(StudioRoles.Builder) == true;

    /// <summary>The projects the current person may see: all for the system and administrators; otherwise those they own
    /// or are a member of; none when nobody said who runs this code.</summary>
    public static IQueryable<Project> VisibleProjects(this StudioDbContext db) => db.Projects.VisibleTo(Current);

    public static IQueryable<Project> VisibleTo(this IQueryable<Project> projects, ClaimsPrincipal? user)
    {
        // An API key reaches only the projects it was made for, whoever owns it.
        if (user?.FindFirstValue(Api.ApiKeyService.ProjectsClaim) is { } keyProjects)
        {
            var ids = keyProjects.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            projects = projects.Where(p => ids.Contains(p.Id));
        }
        if (user is null) return projects.Where(_ => false);
        if (ReferenceEquals(user, SystemPrincipal) || user.IsInRole(StudioRoles.Administrator)) return projects;
        var id = user.FindFirstValue(ClaimTypes.NameIdentifier);
        if (id is null) return projects.Where(_ => false);
        return projects.Where(p => p.OwnerId == id || p.Members.Any(m => m.UserId == id));
    }

    /// <summary>Throws when the current person may not change the project (not a Builder, or neither owner nor member).</summary>
    public static async Task EnsureCanBuildAsync(StudioDbContext db, int projectId, CancellationToken ct = default)
    {
        if (!CanBuild || !await db.VisibleProjects().AnyAsync(p => p.Id == projectId, ct))
            throw new UserFacingException("You do not have access to change this project. Ask its owner or an administrator to add you as a member.");
    }

    private sealed class Restore(ClaimsPrincipal? previous) : IDisposable
    {
        public void Dispose() => CurrentUser.Value = previous;
    }
}

/// <summary>Sets <see cref="StudioUserContext"/> for everything a Blazor circuit does (events, renders after them, JS calls).</summary>
public sealed class UserCircuitHandler(AuthenticationStateProvider authentication) : CircuitHandler
{
    private ClaimsPrincipal _user = new(new ClaimsIdentity());

    public override async Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        _user = (await authentication.GetAuthenticationStateAsync()).User;
        authentication.AuthenticationStateChanged += async state => _user = (await state).User;
    }

    public override Func<CircuitInboundActivityContext, Task> CreateInboundActivityHandler(Func<CircuitInboundActivityContext, Task> next) =>
        async context =>
        {
            using (StudioUserContext.Use(_user)) await next(context);
        };
}
