using System.Text.Json;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>The scores of the model an instruction phase started from, on the same held-out questions.</summary>
public sealed record ChatScores(double ExactMatch, double TokenF1, double RougeL);

/// <summary>
/// What an "Answer questions" run measured, as the engine wrote it to the run folder's chat-results.json: exact match,
/// token F1 and ROUGE-L on the held-out questions (after training, and before it for the starting model), and the best
/// and worst answers side by side with the expected ones.
/// </summary>
public sealed record ChatReport(
    string Summary, string Route, string Template, int Questions, double ExactMatch, double TokenF1, double RougeL,
    ChatScores Before, IReadOnlyList<AnswerExample> Best, IReadOnlyList<AnswerExample> Worst)
{
    public ChatScores After => new(ExactMatch, TokenF1, RougeL);
}

/// <summary>Finds a version's chat report; nothing here computes a figure.</summary>
public sealed class ChatReports(StudioPaths paths, ModelRegistry registry, ILogger<ChatReports> logger)
{
    /// <summary>True when the version answers questions (its artifact carries a chat template).</summary>
    public bool IsChat(ModelVersion version) => ChatSession.IsChatArtifact(registry.FolderOf(version));

    /// <summary>The report of the run that made the version; null when the run folder has none (or it cannot be read).</summary>
    public ChatReport? Of(ModelVersion version) => Read(RunFolder.At(paths.Run(version.RunId)).ChatResultsFile);

    /// <summary>The plain verdict of a chat version: held-out token F1 (after against before) and its goal tests, not the text model's loss rule.</summary>
    public static Core.Verdicts.ModelVerdict VerdictOf(ChatReport report, IReadOnlyCollection<GoalResult> goals) =>
        ChatVerdict.From(new ChatMeasurements(report.Questions, report.TokenF1, report.Before.TokenF1, goals.Count(g => g.Passed), goals.Count, report.Route == "base"));

    public ChatReport? Read(string resultsFile)
    {
        if (!File.Exists(resultsFile)) return null;
        try { return JsonSerializer.Deserialize<ChatReport>(File.ReadAllText(resultsFile), TrainingEvent.Json); }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            logger.LogWarning(e, "The chat results {File} could not be read", resultsFile);
            return null;
        }
    }
}
