using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Api;

/// <summary>The body of <c>POST /api/projects/{id}/classify</c>: one text or several, and optionally which version.</summary>
/// <param name="Version">A version number of the project, or an alias such as "production"; empty: production, else the newest classifier.</param>
public sealed record ClassifyRequest(string? Text, List<string>? Texts, string? Version);

public sealed record ClassifyLabel(string Label, double Probability);

public sealed record ClassifyResult(string Text, string Label, double Confidence, IReadOnlyList<ClassifyLabel> Labels);

public sealed record ClassifyResponse(int Version, IReadOnlyList<ClassifyResult> Results);

/// <summary>
/// "Sort and route" for other programs: <c>POST /api/projects/{id}/classify</c> with <c>{"text": "..."}</c> or
/// <c>{"texts": [...]}</c> answers each text's labels ranked by probability. The same rules as the ask endpoint: a
/// signed-in person or an API key, and only projects that person (or key) may see; a key reaches only its projects.
/// </summary>
public static class ClassifyEndpoints
{
    public static void MapClassifyEndpoints(this WebApplication app) =>
        app.MapPost("/api/projects/{id:int}/classify", ClassifyAsync)
            .RequireAuthorization(new AuthorizationPolicyBuilder(IdentityConstants.ApplicationScheme, ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser().Build())
            // Programs with a key send no antiforgery token; a browser's cookie alone cannot post JSON across sites (SameSite=Strict).
            .DisableAntiforgery();

    private static async Task<IResult> ClassifyAsync(int id, ClassifyRequest? request, HttpContext http,
        IDbContextFactory<StudioDbContext> dbFactory, ModelClassification classification, ClassifierReports reports, CancellationToken ct)
    {
        if (request is null || (request.Text is null && request.Texts is null))
            return Results.BadRequest(new { message = "Send JSON like {\"text\": \"My card was charged twice\"} or {\"texts\": [\"…\", \"…\"]}." });
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.Projects.VisibleTo(http.User).AnyAsync(p => p.Id == id, ct))
            return Results.NotFound(new { message = "There is no project with that number, or you do not have access to it." });
        var version = await ChooseVersionAsync(db, id, request.Version, reports, ct);
        if (version.Problem is { } problem) return Results.NotFound(new { message = problem });
        var texts = request.Texts ?? [request.Text!];
        try
        {
            var classified = await classification.ClassifyAsync(version.Version!, texts, ct);
            return Results.Json(new ClassifyResponse(version.Version!.Number, [.. classified.Select(c => new ClassifyResult(c.Text, c.Top.Label, c.Top.Probability,
                [.. c.Labels.Select(l => new ClassifyLabel(l.Label, l.Probability))]))]));
        }
        catch (UserFacingException e) { return Results.BadRequest(new { message = e.Message }); }
    }

    private static async Task<(ModelVersion? Version, string? Problem)> ChooseVersionAsync(StudioDbContext db, int projectId, string? wanted,
        ClassifierReports reports, CancellationToken ct)
    {
        var versions = await db.ModelVersions.Where(v => v.ProjectId == projectId).OrderByDescending(v => v.Number).ToListAsync(ct);
        var classifiers = versions.Where(reports.IsClassifier).ToList();
        if (classifiers.Count == 0)
            return (null, "This project has no model that sorts texts into labels yet. Train a \"Sort and route\" model first.");
        if (string.IsNullOrWhiteSpace(wanted))
        {
            var production = await db.Aliases.Where(a => a.ProjectId == projectId && a.Name == ModelRegistry.Production).Select(a => (int?)a.ModelVersionId).SingleOrDefaultAsync(ct);
            return (classifiers.FirstOrDefault(v => v.Id == production) ?? classifiers[0], null);
        }
        var name = wanted.Trim().TrimStart('v', 'V');
        ModelVersion? chosen = int.TryParse(name, out var number)
            ? versions.FirstOrDefault(v => v.Number == number)
            : await db.Aliases.Where(a => a.ProjectId == projectId && a.Name == wanted.Trim()).Select(a => a.ModelVersionId).SingleOrDefaultAsync(ct) is var aliasId and > 0
                ? versions.FirstOrDefault(v => v.Id == aliasId) : null;
        if (chosen is null) return (null, $"This project has no version or alias \"{wanted}\".");
        if (!reports.IsClassifier(chosen)) return (null, $"Version {chosen.Number} writes text; it does not sort texts into labels. Choose a \"Sort and route\" version.");
        return (chosen, null);
    }
}
