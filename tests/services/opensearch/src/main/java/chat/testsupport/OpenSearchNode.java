package chat.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

/**
 * A real single-node OpenSearch server inside this JVM, for tests.
 *
 * <p>The distribution's {@code bin/opensearch} refuses to run as root and no container runtime is
 * available, so the node is built directly from the server jar plus the three modules the chat
 * search code relies on: HTTP/transport over Netty, the common analyzers (ngram tokenizer,
 * lowercase filter, ...) and reindex. Everything lives in a fresh folder that is removed on exit.
 *
 * <p>Usage: {@code OpenSearchNode [httpPort [transportPort]]}. Ports may also come from the system
 * properties {@code chat.opensearch.http.port} and {@code chat.opensearch.transport.port}; the
 * parent of the throwaway folder from {@code chat.opensearch.dir} (default: the temp dir).
 *
 * <p>Alone, the node is a single-node cluster. Several nodes form one cluster when each is given
 * the system properties {@code chat.opensearch.cluster.seeds} (the transport addresses of all of
 * them, comma-separated), {@code chat.opensearch.cluster.managers} (the names of the
 * cluster-manager-eligible nodes that bootstrap it) and {@code chat.opensearch.node.name};
 * {@code chat.opensearch.cluster.name} names the cluster (default {@code chat-test}).
 */
public final class OpenSearchNode extends Node {

    private static final int DEFAULT_HTTP_PORT = 39200;
    private static final int DEFAULT_TRANSPORT_PORT = 39300;

    private OpenSearchNode(Environment environment) {
        // forbidPrivateIndexSettings=true: behave like a production node.
        super(
            environment,
            List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, ReindexPlugin.class),
            true);
    }

    public static void main(String[] args) throws Exception {
        int httpPort = port(args, 0, "chat.opensearch.http.port", DEFAULT_HTTP_PORT);
        int transportPort = port(args, 1, "chat.opensearch.transport.port", DEFAULT_TRANSPORT_PORT);
        Path parent = Paths.get(System.getProperty("chat.opensearch.dir", System.getProperty("java.io.tmpdir")));
        Files.createDirectories(parent);
        Path home = Files.createTempDirectory(parent, "opensearch-node-");

        Settings.Builder builder = Settings.builder()
            .put("cluster.name", System.getProperty("chat.opensearch.cluster.name", "chat-test"))
            .put("node.name", System.getProperty("chat.opensearch.node.name", "chat-test-node"))
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // Test machines often have nearly full disks; never block writes on watermarks.
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        String seeds = System.getProperty("chat.opensearch.cluster.seeds", "");
        if (seeds.isBlank()) {
            builder.put("discovery.type", "single-node");
        } else {
            builder.putList("discovery.seed_hosts", List.of(seeds.split(",")))
                .putList("cluster.initial_cluster_manager_nodes",
                    List.of(System.getProperty("chat.opensearch.cluster.managers", "").split(",")));
        }
        Settings settings = builder.build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "node");

        OpenSearchNode node = new OpenSearchNode(environment);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                e.printStackTrace();
            } finally {
                deleteRecursively(home);
                stopped.countDown();
            }
        }, "opensearch-node-shutdown"));

        try {
            node.start();
        } catch (Exception e) {
            e.printStackTrace();
            // The shutdown hook closes the node and removes its folder.
            System.exit(1);
        }
        System.out.println("OpenSearch node started: http://127.0.0.1:" + httpPort + " (home " + home + ")");
        System.out.flush();
        stopped.await();
    }

    private static int port(String[] args, int index, String property, int fallback) {
        String value = args.length > index ? args[index] : System.getProperty(property);
        return value == null || value.isBlank() ? fallback : Integer.parseInt(value.trim());
    }

    private static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            System.err.println("could not remove " + root + ": " + e);
        }
    }
}
