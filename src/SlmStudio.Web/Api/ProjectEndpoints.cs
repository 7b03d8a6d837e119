using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Api;

/// <summary>What the per-project endpoints for other programs (classify, chat) share: who may call them and which version answers.</summary>
public static class ProjectEndpoints
{
    /// <summary>A POST endpoint for a signed-in person or an API key; the handler still checks that the project is visible to them.</summary>
    public static RouteHandlerBuilder MapProjectPost(this WebApplication app, string pattern, Delegate handler) =>
        app.MapPost(pattern, handler)
            .RequireAuthorization(new AuthorizationPolicyBuilder(IdentityConstants.ApplicationScheme, ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser().Build())
            // Programs with a key send no antiforgery token; a browser's cookie alone cannot post JSON across sites (SameSite=Strict).
            .DisableAntiforgery();

    /// <summary>
    /// The version that answers: <paramref name="wanted"/> (a number, "v3", or an alias) when given, else production when
    /// it is of the right kind, else the newest of the right kind; or the problem in words.
    /// </summary>
    /// <param name="fits">Whether a version is of the kind this endpoint serves.</param>
    /// <param name="noneYet">The problem when the project has no version of that kind.</param>
    /// <param name="wrongKind">The problem when the chosen version is of another kind.</param>
    public static async Task<(ModelVersion? Version, string? Problem)> ChooseVersionAsync(StudioDbContext db, int projectId, string? wanted,
        Func<ModelVersion, bool> fits, string noneYet, Func<ModelVersion, string> wrongKind, CancellationToken ct)
    {
        var versions = await db.ModelVersions.Where(v => v.ProjectId == projectId).OrderByDescending(v => v.Number).ToListAsync(ct);
        var suitable = versions.Where(fits).ToList();
        if (suitable.Count == 0) return (null, noneYet);
        if (string.IsNullOrWhiteSpace(wanted))
        {
            var production = await db.Aliases.Where(a => a.ProjectId == projectId && a.Name == ModelRegistry.Production).Select(a => (int?)a.ModelVersionId).SingleOrDefaultAsync(ct);
            return (suitable.FirstOrDefault(v => v.Id == production) ?? suitable[0], null);
        }
        var name = wanted.Trim().TrimStart('v', 'V');
        ModelVersion? chosen = int.TryParse(name, out var number)
            ? versions.FirstOrDefault(v => v.Number == number)
            : await db.Aliases.Where(a => a.ProjectId == projectId && a.Name == wanted.Trim()).Select(a => a.ModelVersionId).SingleOrDefaultAsync(ct) is var aliasId and > 0
                ? versions.FirstOrDefault(v => v.Id == aliasId) : null;
        if (chosen is null) return (null, $"This project has no version or alias \"{wanted}\".");
        return fits(chosen) ? (chosen, null) : (null, wrongKind(chosen));
    }
}
