using System.Text.Json.Serialization;
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
        app.MapProjectPost("/api/projects/{id:int}/classify", ClassifyAsync);

    private static async Task<IResult> ClassifyAsync(int id, ClassifyRequest? request, HttpContext http,
        IDbContextFactory<StudioDbContext> dbFactory, ModelClassification classification, ClassifierReports reports, CancellationToken ct)
    {
        if (request is null || (request.Text is null && request.Texts is null))
            return Results.BadRequest(new { message = "Send JSON like {\"text\": \"My card was charged twice\"} or {\"texts\": [\"…\", \"…\"]}." });
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.Projects.VisibleTo(http.User).AnyAsync(p => p.Id == id, ct))
            return Results.NotFound(new { message = "There is no project with that number, or you do not have access to it." });
        var version = await ProjectEndpoints.ChooseVersionAsync(db, id, request.Version, reports.IsClassifier,
            "This project has no model that sorts texts into labels yet. Train a \"Sort and route\" model first.",
            v => $"Version {v.Number} writes text; it does not sort texts into labels. Choose a \"Sort and route\" version.", ct);
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
}
