using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Models;

/// <summary>Llama 3's rope_scaling ("llama3"), checked against the published formula written out independently here.</summary>
public class RopeScalingTests
{
    // SmolLM2-135M / Llama-3.2's values except the original context, shrunk so a 64-wide head hits all three bands.
    private static LlamaConfig Config(int originalContext = 8192) => new()
    {
        VocabSize = 10, HiddenSize = 64 * 2, IntermediateSize = 8, NumLayers = 1, NumHeads = 2, NumKvHeads = 2,
        RopeTheta = 500000, MaxPositions = 4 * originalContext,
        RopeScaling = new Llama3RopeScaling(Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: originalContext),
    };

    /// <summary>
    /// Meta's apply_scaling (llama-models, Llama 3.1), phrased by how many turns a frequency makes within the original
    /// context: more than high_freq_factor turns keeps it, fewer than low_freq_factor divides it by the factor, and in
    /// between it is interpolated linearly in the number of turns.
    /// </summary>
    private static double[] ExpectedInverseFrequencies(double theta, int dim, double factor, double low, double high, int originalContext)
    {
        var result = new double[dim / 2];
        for (int i = 0; i < result.Length; i++)
        {
            double freq = Math.Pow(theta, -(2.0 * i) / dim);
            double turns = originalContext * freq / (2 * Math.PI);
            if (turns > high) result[i] = freq;
            else if (turns < low) result[i] = freq / factor;
            else
            {
                double smooth = (turns - low) / (high - low);
                result[i] = smooth * freq + (1 - smooth) * freq / factor;
            }
        }
        return result;
    }

    [Theory]
    [InlineData(8192)]
    [InlineData(64)]
    public void InverseFrequenciesFollowThePublishedFormula(int originalContext)
    {
        var config = Config(originalContext);
        var expected = ExpectedInverseFrequencies(500000, 64, 32, 1, 4, originalContext);
        var actual = config.RopeInverseFrequencies();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-15 * Math.Max(1, expected[i]));

        // The test is only meaningful if every band occurs: kept, divided and interpolated frequencies.
        var plain = Enumerable.Range(0, 32).Select(i => Math.Pow(500000, -(2.0 * i) / 64)).ToArray();
        Assert.Contains(Enumerable.Range(0, 32), i => actual[i] == plain[i]);
        Assert.Contains(Enumerable.Range(0, 32), i => Math.Abs(actual[i] - plain[i] / 32) < 1e-18);
        Assert.Contains(Enumerable.Range(0, 32), i => actual[i] < plain[i] && actual[i] > plain[i] / 32 * (1 + 1e-9));
        Assert.Equal(1.0, actual[0]); // the fastest frequency is never scaled
    }

    [Fact]
    public void TheModelsRotaryUsesTheScaledFrequencies()
    {
        // Rotating the unit vector e_j at position p gives cos(p·f_j) at j and sin(p·f_j) at j + 32 (rotate_half layout).
        var config = Config(64);
        var expected = ExpectedInverseFrequencies(500000, 64, 32, 1, 4, 64);
        const int position = 1000;
        var rope = new Rotary(config, position, 1, CPU);
        for (int j = 0; j < 32; j += 3)
        {
            using var x = zeros(1, 1, 1, 64);
            x[0, 0, 0, j] = tensor(1f);
            using var y = rope.Apply(x);
            Assert.Equal(Math.Cos(position * expected[j]), y[0, 0, 0, j].item<float>(), 1e-5);
            Assert.Equal(Math.Sin(position * expected[j]), y[0, 0, 0, j + 32].item<float>(), 1e-5);
        }
    }

    [Fact]
    public void ConfigJsonRoundTripsTheScaling()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "config.json");
        Config(64).Save(path);
        var loaded = LlamaConfig.Load(path);
        Assert.Equal(new Llama3RopeScaling(32, 1, 4, 64), loaded.RopeScaling);
        Assert.Equal(Config(64).RopeInverseFrequencies(), loaded.RopeInverseFrequencies());
    }

    [Fact]
    public void IncompleteLlama3ScalingIsRefusedNamingTheKey()
    {
        var dir = ArchitectureConformanceTests.CopyFixture("tiny-llama-hf");
        ArchitectureConformanceTests.EditConfig(dir, "\"mlp_bias\": false", "\"mlp_bias\": false, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}");
        var e = Assert.Throws<UnsupportedModelException>(() => ModelFolder.Load(dir));
        Assert.Contains("original_max_position_embeddings", e.Message);
    }
}
