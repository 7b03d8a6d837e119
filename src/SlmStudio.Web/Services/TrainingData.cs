using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>The files a run trains on, as recorded in its lineage.</summary>
public sealed record DataLineageEntry(string Name, long Characters, string Sha256);

/// <summary>
/// Finds the frozen dataset version a run trains on (freezing the project's data first when the run has none yet) and
/// checks its files against their recorded hashes. The trainer reads the version's train.txt/val.txt split as it is.
/// </summary>
public sealed class TrainingData(IDbContextFactory<StudioDbContext> dbFactory, DataPreparation preparation, IOptions<StudioOptions> options, ILogger<TrainingData> logger)
{
    public const string LineageFile = "input-files.json";
    /// <summary>The one file of question/answer pairs a chat run trains on (<c>slm train --task chat</c> reads one file).</summary>
    public const string ChatPairsFile = "chat-pairs.jsonl";
    /// <summary>The files a frozen question/answer dataset version writes its pairs to (<see cref="DatasetBuilder"/>).</summary>
    private static class PairFiles
    {
        public const string Train = "train.jsonl";
        public const string Validation = "val.jsonl";
    }

    /// <summary>The fields a frozen question/answer dataset version writes its pairs with.</summary>
    public const string ChatQuestionColumn = "prompt";
    public const string ChatAnswerColumn = "response";

    /// <summary>Returns the dataset folder for <c>slm train --data</c>.</summary>
    public async Task<string> PrepareAsync(TrainingRun run, string runDir, CancellationToken ct)
    {
        DatasetVersionRecord? dataset = null;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            if (run.DatasetVersionId is { } id) dataset = await db.DatasetVersions.SingleOrDefaultAsync(d => d.Id == id, ct);
        if (dataset is null)
        {
            dataset = await preparation.CurrentDatasetAsync(run.ProjectId, run.CreatedBy, ct);
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            await db.Runs.Where(r => r.Id == run.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.DatasetVersionId, dataset.Id), ct);
            run.DatasetVersionId = dataset.Id;
        }

        var folder = preparation.FolderOf(dataset);
        DatasetVersion version;
        try { version = DatasetVersion.Load(folder); }
        catch (Core.EngineException) { throw new UserFacingException($"The files of dataset version {dataset.DatasetId} are missing on the server. Go back to the Data step and continue again to freeze a new version."); }
        if (!version.Verify())
            throw new UserFacingException($"The files of dataset version {dataset.DatasetId} were changed after it was frozen, so it is not trained on. Go back to the Data step and continue again to freeze a new version.");
        // Labelled examples are judged by their labels (the engine's review), not by their length: short messages are the norm.
        if (version.Task is not (DatasetTask.Classification or DatasetTask.QuestionAnswer) && version.Total.Characters < options.Value.MinimumTrainingCharacters)
            throw new UserFacingException($"There is too little text to train on: {version.Total.Characters:N0} characters, at least {options.Value.MinimumTrainingCharacters:N0} are needed. Upload more documents.");

        var lineage = version.Sources.Select(s => new DataLineageEntry(SafeFileName.ForDisplay(s.OriginalName), s.Characters, s.Sha256)).ToList();
        await File.WriteAllTextAsync(Path.Combine(runDir, LineageFile), JsonSerializer.Serialize(lineage), ct);
        logger.LogInformation("Run {RunId} trains on dataset version {DatasetId} in {Folder}", run.Id, dataset.DatasetId, folder);
        if (version.Task != DatasetTask.QuestionAnswer) return folder;
        if (run.Task != TrainingTasks.Chat)
            throw new UserFacingException($"Dataset version {dataset.DatasetId} holds question and answer pairs, which only an \"Answer questions\" project trains on. Go back to the Data step and continue again to freeze the data for this use case.");
        return await GatherPairsAsync(folder, version, runDir, ct);
    }

    /// <summary>
    /// The pairs of every file of a question/answer dataset version in one JSONL file in the run folder: the chat engine
    /// reads one file and holds back its own share of questions (the same question never on both sides).
    /// </summary>
    private static async Task<string> GatherPairsAsync(string folder, DatasetVersion version, string runDir, CancellationToken ct)
    {
        var target = Path.Combine(runDir, ChatPairsFile);
        await using (var writer = new StreamWriter(target, append: false))
            // Only the split's pair files: the folder also holds other JSONL (such as the search records).
            foreach (var file in version.Files.Where(f => f.Name is PairFiles.Train or PairFiles.Validation))
                foreach (var line in await File.ReadAllLinesAsync(Path.Combine(folder, file.Name), ct))
                    if (!string.IsNullOrWhiteSpace(line)) await writer.WriteLineAsync(line.AsMemory(), ct);
        return target;
    }
}
