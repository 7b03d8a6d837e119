using SlmStudio.Web.Services;

namespace SlmStudio.Web;

/// <summary>HTTP endpoints that are files rather than pages.</summary>
public static class StudioApi
{
    public static void MapStudioApi(this WebApplication app)
    {
        app.MapGet("/api/versions/{id:int}/download", async (int id, ModelRegistry registry) =>
        {
            var version = await registry.FindAsync(id);
            if (version is null) return Results.NotFound("There is no model version with that number, or you do not have access to its project.");
            if (!Directory.Exists(registry.FolderOf(version))) return Results.Problem("The files of this version are missing on the server.", statusCode: 410);
            var name = $"{Slug(version.Project!.Name)}-v{version.Number}.zip";
            return Results.File(registry.OpenZip(version), "application/zip", name);
        });
    }

    public static string Slug(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = string.Join('-', new string(chars).Split('-', StringSplitOptions.RemoveEmptyEntries));
        return slug.Length == 0 ? "model" : slug;
    }
}
