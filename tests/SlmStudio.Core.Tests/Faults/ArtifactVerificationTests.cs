using System.Text.Json.Nodes;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Tests.Export;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Tests.Faults;

/// <summary>Issue 14: every file the artifact loader reads is checked, and a loaded artifact notices files changed later.</summary>
public sealed class ArtifactVerificationTests(OnnxTestModels.TinyArtifact tiny) : IClassFixture<OnnxTestModels.TinyArtifact>
{
    private static void EditEndToken(string dir)
    {
        var path = Path.Combine(dir, OnnxArtifact.TokenizerConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["eos_token"] = "<unk>";
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void AnEditedTokenizerConfigIsRefused()
    {
        var dir = tiny.CopyArtifact();
        EditEndToken(dir);
        var e = Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(dir));
        Assert.Contains("tokenizer_config.json does not match manifest.json", e.Message);
    }

    [Fact]
    public void ATokenizerConfigTheManifestDoesNotListIsRefused()
    {
        var dir = tiny.CopyArtifact();
        var manifest = ArtifactManifest.Load(dir);
        (manifest with { Files = manifest.Files.Where(f => f.Path != OnnxArtifact.TokenizerConfigFile).ToList() }).Save(dir);
        var e = Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(dir));
        Assert.Contains("not listed in manifest.json", e.Message);
    }

    [Fact]
    public void ALoadedArtifactNoticesAFileChangedAfterwards()
    {
        var dir = tiny.CopyArtifact();
        using var artifact = OnnxArtifact.Open(dir);
        Assert.Contains(OnnxArtifact.TokenizerConfigFile, artifact.LoadedFiles);
        Assert.Contains(ArtifactManifest.FileName, artifact.LoadedFiles);
        Assert.False(artifact.FilesChangedSinceOpened);
        artifact.VerifyUnchanged();

        // Touched but the same bytes: re-checked once, then cheap again.
        var onnx = Path.Combine(dir, "model.onnx");
        File.SetLastWriteTimeUtc(onnx, DateTime.UtcNow.AddMinutes(5));
        Assert.True(artifact.FilesChangedSinceOpened);
        artifact.VerifyUnchanged();
        Assert.False(artifact.FilesChangedSinceOpened);

        // Changed bytes: refused.
        var bytes = File.ReadAllBytes(onnx);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(onnx, bytes);
        Assert.True(artifact.FilesChangedSinceOpened);
        var e = Assert.Throws<InvalidModelFileException>(artifact.VerifyUnchanged);
        Assert.Contains("model.onnx does not match manifest.json", e.Message);
    }

    [Fact]
    public void ATokenizerWithIdsOutsideTheModelsVocabularyIsRefusedBeforeLoading()
    {
        var dir = tiny.CopyArtifact();
        var path = Path.Combine(dir, ModelFolder.TokenizerFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 28435, ["content"] = "<far>", ["special"] = true });
        File.WriteAllText(path, json.ToJsonString());
        // Re-hashed so that only the vocabulary check can refuse it.
        var manifest = ArtifactManifest.Load(dir);
        (manifest with { Files = manifest.Files.Select(f => f.Path == ModelFolder.TokenizerFile ? ArtifactManifest.Describe(dir, [f.Path])[0] : f).ToList() }).Save(dir);
        var e = Assert.Throws<InvalidModelFileException>(() => OnnxArtifact.Open(dir));
        Assert.Contains("token ids up to 28,435", e.Message);
        Assert.Contains($"only has {tiny.Config.VocabSize:N0} tokens", e.Message);
    }
}
