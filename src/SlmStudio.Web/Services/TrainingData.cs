using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>The files a run trains on, as recorded in its lineage.</summary>
public sealed record DataLineageEntry(string Name, long Characters, string Sha256);

/// <summary>Freezes a project's usable uploads into the run folder, so later uploads never change a run.</summary>
public sealed class TrainingData(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, IOptions<StudioOptions> options)
{
    public const string LineageFile = "input-files.json";

    public async Task<string> PrepareAsync(TrainingRun run, string runDir, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var files = await db.DataFiles.Where(f => f.ProjectId == run.ProjectId && f.Problem == null).OrderBy(f => f.Id).ToListAsync(ct);
        if (files.Count == 0)
            throw new UserFacingException("This project has no usable documents. Go back to the Data step and upload some text files.");
        var characters = files.Sum(f => f.Characters);
        if (characters < options.Value.MinimumTrainingCharacters)
            throw new UserFacingException($"There is too little text to train on: {characters:N0} characters, at least {options.Value.MinimumTrainingCharacters:N0} are needed. Upload more documents.");

        var input = Path.Combine(runDir, "input");
        if (Directory.Exists(input)) Directory.Delete(input, recursive: true);
        Directory.CreateDirectory(input);
        var lineage = new List<DataLineageEntry>();
        foreach (var f in files)
        {
            File.Copy(Path.Combine(paths.Uploads(run.ProjectId), f.StoredName), Path.Combine(input, f.StoredName));
            lineage.Add(new DataLineageEntry(f.OriginalName, f.Characters, f.Sha256));
        }
        await File.WriteAllTextAsync(Path.Combine(runDir, LineageFile), JsonSerializer.Serialize(lineage), ct);
        return input;
    }
}
