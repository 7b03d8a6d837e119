using SlmStudio.Core.Export.Quantization;
using SlmStudio.Core.Retrieval;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web;

/// <summary>HTTP endpoints that are files rather than pages.</summary>
public static class StudioApi
{
    public static void MapStudioApi(this WebApplication app)
    {
        app.MapGet("/api/versions/{id:int}/download", async (int id, string? precision, bool? withIndex, HttpContext http, ModelRegistry registry, VersionExports exports, DocumentSearch search, AuditLog audit) =>
        {
            if (precision is not null && precision != "fp32") return await DownloadSmallerAsync(id, precision, http, registry, exports, audit);
            var version = await registry.FindAsync(id);
            if (version is null) return Results.NotFound("There is no model version with that number, or you do not have access to its project.");
            if (!Directory.Exists(registry.FolderOf(version))) return Results.Problem("The files of this version are missing on the server.", statusCode: 410);
            // Never serve files other than the registered ones: checked before the first byte, and again while streaming.
            try { await registry.EnsureIntactAsync(version, "download", http.RequestAborted); }
            catch (TamperedArtifactException e) { return Results.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "The model's files changed"); }
            IReadOnlyList<ZipExtraFile> index = [];
            if (withIndex == true)
            {
                try { index = await search.SearchIndexFilesAsync(version, http.RequestAborted); }
                catch (UserFacingException e) { return Results.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "No search index to include"); }
            }
            await audit.RecordAsync(AuditActions.Download, $"version {version.Number}{(index.Count > 0 ? " with its search index" : "")}", version.ProjectId);
            var name = $"{Slug(version.Project!.Name)}-v{version.Number}{(index.Count > 0 ? "-with-index" : "")}.zip";
            // Streamed: no temporary file per request, and a cancelled download leaves nothing behind.
            return Results.Stream(body => registry.WriteZipAsync(version, body, http.RequestAborted, index), "application/zip", name);
        }).WithTags("Models").WithSummary("Downloads a registered version as a zip (ONNX model, tokenizer, Hugging Face weights, manifest.json), after checking every file against the hashes recorded at registration (409 when one changed). withIndex=true adds the search index of the data the version was trained on under search-index/ (dataset.json, passages.jsonl, search-index/), so that 'slm ask search-index --model .' runs on the download.");
        MapAsk(app);
    }

    /// <summary>A version in int8 or int4, once it was prepared on the Models page and passed its quality check.</summary>
    private static async Task<IResult> DownloadSmallerAsync(int id, string precisionName, HttpContext http, ModelRegistry registry, VersionExports exports, AuditLog audit)
    {
        WeightPrecision precision;
        try { precision = WeightPrecisions.Parse(precisionName); }
        catch (Core.EngineException e) { return Results.BadRequest(e.Message); }
        var version = await registry.FindAsync(id);
        if (version is null) return Results.NotFound("There is no model version with that number, or you do not have access to its project.");
        if (exports.DownloadableFiles(version, precision) is not { } files)
            return Results.Problem($"This version has no {precision.Name()} files that passed the quality check. Prepare them on the Models page first.", statusCode: StatusCodes.Status404NotFound);
        await audit.RecordAsync(AuditActions.Download, $"version {version.Number} ({precision.Name()})", version.ProjectId);
        var name = $"{Slug(version.Project!.Name)}-v{version.Number}-{precision.Name()}.zip";
        return Results.Stream(body => registry.WriteZipAsync(version, exports.FolderOf(version, precision), files, body, http.RequestAborted), "application/zip", name);
    }

    /// <summary>A signed-in person (the portal's cookie) or an API key; either way only the projects they may see.</summary>
    public static readonly Microsoft.AspNetCore.Authorization.AuthorizationPolicy SignedInOrKey =
        new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder(Microsoft.AspNetCore.Identity.IdentityConstants.ApplicationScheme, Api.ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser().Build();

    /// <summary>The body of <c>POST /api/projects/{id}/ask</c>.</summary>
    public sealed record AskRequest(string? Question, int? Top, bool? Answer);

    private static void MapAsk(WebApplication app) =>
        app.MapPost("/api/projects/{id:int}/ask", async (int id, AskRequest? request, DocumentSearch search, CancellationToken ct) =>
        {
            if (request is null) return Results.BadRequest(new { message = "Send JSON like {\"question\": \"How many days of holiday do we get?\", \"top\": 5, \"answer\": false}." });
            try
            {
                var response = await search.AskAsync(id, request.Question ?? "", request.Top ?? 5, request.Answer ?? false, ct: ct);
                return Results.Json(response, AskResponse.Json);
            }
            catch (ProjectNotFoundException e) { return Results.NotFound(new { message = e.Message }); }
            catch (UserFacingException e) { return Results.BadRequest(new { message = e.Message }); }
        }).RequireAuthorization(SignedInOrKey).WithTags("Documents").WithSummary("Searches the project's frozen documents for passages that answer a question; answer: true also writes an answer with the project's production model.");

    public static string Slug(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = string.Join('-', new string(chars).Split('-', StringSplitOptions.RemoveEmptyEntries));
        return slug.Length == 0 ? "model" : slug;
    }
}
