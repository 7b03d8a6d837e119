using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlmStudio.Core.Data;

/// <summary>A frozen dataset: the content of <c>dataset.json</c> in its folder.</summary>
public sealed record DatasetVersion(
    string Id,
    string ContentSha256,
    DateTimeOffset CreatedAt,
    DatasetTask Task,
    IReadOnlyList<DatasetSource> Sources,
    DatasetSettings Settings,
    DocumentStats Total,
    DocumentStats Train,
    DocumentStats Validation,
    int ExactDuplicatesRemoved,
    int NearDuplicatesRemoved,
    IReadOnlyDictionary<string, int> RedactionCounts,
    IReadOnlyList<DatasetFile> Files,
    IReadOnlyList<DataProblem> Problems)
{
    public const string ManifestName = "dataset.json";

    [JsonIgnore]
    public string Folder { get; init; } = "";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static DatasetVersion Load(string folder)
    {
        var path = Path.Combine(folder, ManifestName);
        if (!File.Exists(path)) throw new EngineException($"'{folder}' is not a dataset version folder (it has no {ManifestName}).");
        var version = JsonSerializer.Deserialize<DatasetVersion>(File.ReadAllText(path), Json)
            ?? throw new EngineException($"{path} is empty.");
        return version with { Folder = Path.GetFullPath(folder) };
    }

    /// <summary>Checks that the files of the folder still have the hashes recorded when it was frozen.</summary>
    public bool Verify() => Files.All(f =>
    {
        var p = Path.Combine(Folder, f.Name);
        return File.Exists(p) && DocumentExtractor.HashFile(p).Sha256 == f.Sha256;
    });
}
